//! A fake Shopify Admin GraphQL API on a loopback port, for tests.
