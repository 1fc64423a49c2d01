"""The HTTP side: what runs around every route (middleware), request bodies, responses, and one error table
per API that turns typed errors into that API's status codes and bodies."""
