"""The storage room: where a sweep's state lives (Tune's folder, local or s3://, and our state file beside it) and
where its Optuna study lives (a database whose password never reaches a file)."""
