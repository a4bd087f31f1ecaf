"""Files shared in a session: intake to the file store, reading, extraction, chunking, listing."""
