"""Sans-I/O protocols: bytes in, commands out; events in, bytes out. No sockets here."""
