"""What each API does, independent of HTTP and of AWS: typed inputs in, typed results out, typed errors
raised. The web layer (snapscribe.web, snapscribe.routes) owns status codes and wire shapes."""
