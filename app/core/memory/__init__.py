"""Personal vector memory: extraction, chunking, embeddings, the chunk store and hybrid search.

store.db (SQLCipher) is the truth: chunk text, locations, float32 embeddings and the FTS5 index.
The chromadb folder is a derived ANN index of rotated vectors only, rebuilt when it is missing
or inconsistent. Writes happen on the index lane; searches may run on any thread.
"""
