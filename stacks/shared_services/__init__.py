"""The data services layer_2 runs for every environment, one construct per module.

``influxdb`` (with the loop that keeps a bucket per environment), ``loki``, ``grafana``,
``n8n``, ``neo4j``, ``telegraf`` (with its own read-only socket proxy) and ``gatus``; each
module also holds the pure functions that render its configuration files, and the frozen
endpoint dataclass it returns where another part reads it (``InfluxDbEndpoint``,
``LokiEndpoint``, ``Neo4jEndpoint``). ``common`` has the parts they share.

    influxdb = InfluxDb(self, "influxdb", InfluxDbProps(...))
    Grafana(self, "grafana", GrafanaProps(..., influxdb=influxdb.endpoint, loki=loki.endpoint))

Each construct names its service ``Default``, so the service's Terraform address is the
construct's id (``docker_service.grafana``).
"""
