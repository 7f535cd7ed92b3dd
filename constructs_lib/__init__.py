"""Reusable constructs for Sprocket's infrastructure.

Generated provider classes (``cdktf_cdktf_provider_*``) are used only inside this
package; stacks compose these constructs. Each module holds one concept and opens
with what it creates and a short usage example.
"""
