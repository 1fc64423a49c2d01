"""What each route does, independent of HTTP and of AWS: parse, check, charge, extract, settle."""
