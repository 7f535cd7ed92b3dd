"""One module per Terraform stack, plus the configuration model they read."""
