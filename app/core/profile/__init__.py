"""The encrypted profile: header and key slots, the SQLCipher store, encrypted blobs."""
