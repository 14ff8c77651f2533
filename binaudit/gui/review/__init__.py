"""Deciding about bins: BinView shows one bin (photo with zoom and brightness/contrast, counts, mismatch
badge, model predictions, SKUs, label history); LabelController turns decisions, undo and redo into store
events on the writer thread (write first, then move the undo stack; conflicts with other auditors are
asked about); Decisions turns the labelling keys into decisions about the image on screen; Curation makes
bulk decisions on the selected rows (one event per image, one undo step); label_dialogs ask why a photo is
uncountable, a typed count, and whose label stands."""
