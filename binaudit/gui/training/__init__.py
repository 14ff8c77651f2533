"""Retraining and switching models from the app: TrainingMenu composes the setup dialog (recipes from the
training package), the `python -m training` subprocess followed through its JSON-lines stream (the state is
training.run_state's, Qt-free; RunMonitor re-emits it), the live run view, the Runs dock, the Models window,
the comparison of a new model with the active one and its activation (rescoring in a background job). The
device probe asks a child process which device torch would use, so torch never loads in the GUI."""
