// Builder/decoder tests (next commit).
