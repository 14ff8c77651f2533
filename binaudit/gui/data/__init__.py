"""Getting data in and out: importing a dataset folder into a workspace (ImportJob with a cancellable
progress dialog; the window opens or reloads the workspace afterwards) and the Export menu (audit results
as CSV/JSON, corrected ABID metadata, an image folder per count), each run by binaudit.core in a job."""
