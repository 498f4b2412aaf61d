//! Shopify: the Admin GraphQL API of one shop, to hold, release and cancel its orders (mall actions).
