"""Wire-level definitions shared by clients and the server: keys, encodings, messages.

Nothing here imports the runtime, the server or the storage drivers.
"""
