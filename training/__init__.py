"""Scripts that build model bundles into models/ (never imported by the service at run time)."""
