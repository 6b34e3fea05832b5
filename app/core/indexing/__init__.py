"""Background indexing of watched folders: library and rules, reconcile, watcher, queue."""
