"""Every side effect: signing, HTTP delivery, the store."""
