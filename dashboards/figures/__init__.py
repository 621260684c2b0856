"""The figures room: pure matplotlib and plotly figures of the search, confirm, training budgets, recipes, space."""
