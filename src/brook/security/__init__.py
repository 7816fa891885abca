"""Security: the authorizer and its ACL stores (and, with the listeners' work, TLS and SASL)."""
