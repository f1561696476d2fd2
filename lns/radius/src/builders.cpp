// Request builders and reply decoders (filled in the next commit).
