"""Finding bins: BrowserPanel (filter bar, queue bar, table and thumbnail grid over one item model) keeps
the current image and walks the view (next, previous, next unreviewed in a review queue). The item models
read core.browse.BrowseIndex's numpy columns when painted, so 500k rows cost one array here. Thumbnails and
photos decode outside the GUI thread: ImageLoader drives `python -m binaudit.gui.browse.decode` worker
processes (Pillow, no Qt; this package's __init__ stays Qt-free for them) with threads as a fallback."""
