"""A real Docker engine with a single-node swarm, and the synthesized stacks deployed into it.

- ``engine``: a private ``dockerd`` (its own directories and socket), a swarm, and the rule
  that keeps every container packet on this machine;
- ``expressions``: the Terraform expressions the synthesized JSON holds, evaluated;
- ``provider``: each ``docker_*`` resource turned into the Engine API request the pinned
  kreuzwerker/docker provider sends;
- ``images``: local images, tagged with the exact references the stacks pin;
- ``rehearsal``: the deploy, in stack order, with every deviation from production in one list.
"""
