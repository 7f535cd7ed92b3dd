"""Project checks for checkov, loaded with --external-checks-dir.

checkov has no built-in checks for the Docker provider, so without these it would
run no check at all on stacks made only of Swarm services.
"""
