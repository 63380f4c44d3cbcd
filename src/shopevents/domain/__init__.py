"""The rules of what events do: identity, contacts, catalog, carts, purchases, timeline."""
