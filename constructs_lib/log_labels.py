"""The container labels every log line is labelled by, from the node's Docker to Loki.

``SwarmService`` puts ``sprocket.stack`` and ``sprocket.environment`` on every task's
container; Swarm adds ``com.docker.swarm.service.name`` itself (moby v28.2.2
daemon/cluster/executor/container/container.go, ``labels``: the container spec's labels, then
the system labels). The nodes' Docker writes the three into each json-file log line
(``stacks/node_bootstrap.py``), and the log shipper makes them Loki's ``stack``,
``environment`` and ``service`` (``stacks/shared_services/log_shipper.py``).
"""

from __future__ import annotations

STACK_LABEL = "sprocket.stack"
ENVIRONMENT_LABEL = "sprocket.environment"
SERVICE_LABEL = "com.docker.swarm.service.name"
# Container label -> Loki label.
LOG_LABELS = {STACK_LABEL: "stack", ENVIRONMENT_LABEL: "environment", SERVICE_LABEL: "service"}
# The stack context keys SprocketStack sets and SwarmService reads.
STACK_CONTEXT = "sprocket:stack"
ENVIRONMENT_CONTEXT = "sprocket:environment"
# The environment of the stacks every environment shares (cluster, layer_1, layer_2).
SHARED = "shared"
