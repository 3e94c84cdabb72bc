"""`chinwag connect`: a terminal IRC client.

Sans-I/O core (:mod:`.protocol`, :mod:`.commands`, :mod:`.render`) with the I/O
at the edges (:mod:`.connection` for asyncio, :mod:`.ui` for the terminal,
:mod:`.script` for piped stdin). It speaks plain IRC plus the IRCv3 caps it
can use, through :mod:`chinwag.protocols.irc`; it never imports the server.
"""
