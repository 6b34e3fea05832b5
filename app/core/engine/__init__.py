"""Local inference (llama.cpp), the model catalog, downloads and GGUF checks.

``Engine`` (llm.py) is what the rest of the app calls; ``EngineProtocol`` (protocol.py) is the
seam tests fake. Nothing here imports Qt.
"""
