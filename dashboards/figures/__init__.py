"""The figures room: pure matplotlib and plotly figures of the search, the confirm stage, recipes and the space."""
