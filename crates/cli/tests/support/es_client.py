# Runs searches with the official Elasticsearch Python client against loglynx and prints one
# JSON object with what each returned, for the test to compare with loglynx's own API. The
# Grafana searches are the bodies Grafana's Elasticsearch data source sends (its query builder:
# a time series with a date histogram, and a logs query), through _msearch as Grafana does.
import json, sys

from elasticsearch import BadRequestError, Elasticsearch

es = Elasticsearch(sys.argv[1], request_timeout=30)
FROM, TO = int(sys.argv[2]), int(sys.argv[3])
out = {"info": es.info()["version"]["number"]}

def total(body):
    r = es.search(index="loglynx", body=body)
    return r["hits"]["total"]["value"]

out["query_string"] = total({"query": {"query_string": {"query": "timeout AND host.name:web1"}}})
out["bool"] = total({"query": {"bool": {
    "filter": [{"term": {"host.name": "web0"}},
               {"range": {"@timestamp": {"gte": "2024-05-01T10:10:00Z", "lt": "2024-05-01T10:40:00Z"}}}],
    "must_not": [{"term": {"log.level": "info"}}]}}})
out["match_phrase"] = total({"query": {"match_phrase": {"message": "disk full"}}})
out["match"] = total({"query": {"match": {"message": {"query": "disk timeout", "operator": "or"}}}})
out["exists"] = total({"query": {"exists": {"field": "source.ip"}}})
out["terms"] = total({"query": {"terms": {"log.level": ["warn", "error"]}}})
out["should"] = total({"query": {"bool": {"should": [{"term": {"host.name": "web2"}}, {"match_phrase": {"message": "disk full"}}]}}})

page = es.search(index="loglynx", size=5, from_=3, sort=[{"@timestamp": {"order": "asc"}}], query={"match_all": {}})
out["page"] = [h["_id"] for h in page["hits"]["hits"]]
out["capped"] = es.search(index="loglynx", track_total_hits=100, query={"match_all": {}})["hits"]["total"]

aggs = es.search(index="loglynx", size=0, aggs={
    "per10m": {"date_histogram": {"field": "@timestamp", "fixed_interval": "10m"}},
    "hosts": {"terms": {"field": "host.name", "size": 2}},
    "ips": {"terms": {"field": "source.ip", "size": 1}},
    "min_pid": {"min": {"field": "process.pid"}},
    "max_pid": {"max": {"field": "process.pid"}},
    "avg_pid": {"avg": {"field": "process.pid"}},
    "sum_pid": {"sum": {"field": "process.pid"}},
    "hosts_n": {"cardinality": {"field": "host.name"}},
    "ips_n": {"cardinality": {"field": "source.ip"}},
})["aggregations"]
out["metrics"] = {k: aggs[k]["value"] for k in ["min_pid", "max_pid", "avg_pid", "sum_pid", "hosts_n", "ips_n"]}
out["histogram"] = {str(b["key"]): b["doc_count"] for b in aggs["per10m"]["buckets"]}
out["hosts"] = {"buckets": {b["key"]: b["doc_count"] for b in aggs["hosts"]["buckets"]},
                "other": aggs["hosts"]["sum_other_doc_count"]}
out["ips"] = {"buckets": {b["key"]: b["doc_count"] for b in aggs["ips"]["buckets"]},
              "other": aggs["ips"]["sum_other_doc_count"]}

header = {"search_type": "query_then_fetch", "ignore_unavailable": True, "index": "loglynx"}
time_filter = {"range": {"@timestamp": {"gte": FROM, "lte": TO, "format": "epoch_millis"}}}
grafana_series = {"size": 0, "query": {"bool": {"filter": [time_filter,
        {"query_string": {"analyze_wildcard": True, "query": "log.level:error"}}]}},
    "aggs": {"2": {"date_histogram": {"field": "@timestamp", "min_doc_count": 0,
        "extended_bounds": {"min": FROM, "max": TO}, "format": "epoch_millis", "fixed_interval": "10m"}}}}
grafana_logs = {"size": 500, "query": {"bool": {"filter": [time_filter,
        {"query_string": {"analyze_wildcard": True, "query": "timeout"}}]}},
    "sort": [{"@timestamp": {"order": "desc", "unmapped_type": "boolean"}}, {"_doc": {"order": "desc"}}],
    "script_fields": {},
    "highlight": {"fields": {"*": {}}, "pre_tags": ["@HIGHLIGHT@"], "post_tags": ["@/HIGHLIGHT@"], "fragment_size": 2147483647},
    "aggs": {"2": {"date_histogram": {"field": "@timestamp", "min_doc_count": 0,
        "extended_bounds": {"min": FROM, "max": TO}, "format": "epoch_millis", "fixed_interval": "10m"}}}}
ms = es.msearch(searches=[header, grafana_series, header, grafana_logs])["responses"]
out["grafana_series"] = {str(b["key"]): b["doc_count"] for b in ms[0]["aggregations"]["2"]["buckets"] if b["doc_count"]}
out["grafana_logs"] = {"total": ms[1]["hits"]["total"]["value"], "hits": len(ms[1]["hits"]["hits"]),
                       "newest_first": [h["_source"]["@timestamp"] for h in ms[1]["hits"]["hits"][:2]]}

# Grafana's "metric per bucket" and "group by" panels: the request bodies of its data source's
# own tests (pkg/tsdb/elasticsearch/testdata_request/metric_{multi,simple,complex}.request.line1.json)
# with its test fields renamed to loglynx's (testtime -> @timestamp, label -> host.name,
# float -> process.pid) and a 10m interval for these events.
grafana_range = {"bool": {"filter": {"range": {"@timestamp": {"format": "epoch_millis", "gte": FROM, "lte": TO}}}}}
histogram = {"extended_bounds": {"max": TO, "min": FROM}, "field": "@timestamp", "fixed_interval": "10m",
             "format": "epoch_millis", "min_doc_count": 0}
metric_multi = {"size": 0, "query": grafana_range,
    "aggs": {"2": {"date_histogram": histogram, "aggs": {"1": {"max": {"field": "process.pid"}}}}}}
metric_simple = {"size": 0, "query": grafana_range,
    "aggs": {"3": {"aggs": {"2": {"date_histogram": histogram}},
                   "terms": {"field": "host.name", "min_doc_count": 1, "order": {"_key": "desc"}, "size": 10}}}}
metric_complex = {"size": 0, "query": grafana_range,
    "aggs": {"4": {"aggs": {"2": {"aggs": {"1": {"max": {"field": "process.pid"}}, "3": {"min": {"field": "process.pid"}}},
                                  "date_histogram": histogram}},
                   "terms": {"field": "host.name", "order": {"_key": "desc"}, "size": 10}}}}
# Group by two terms with a metric and a value count per bucket.
two_terms = {"size": 0, "aggs": {"h": {"terms": {"field": "host.name", "order": {"_count": "desc"}},
    "aggs": {"l": {"terms": {"field": "log.level", "size": 2, "order": {"_key": "asc"}},
                   "aggs": {"avg": {"avg": {"field": "process.pid"}}, "n": {"value_count": {"field": "source.ip"}}}}}}}}
ms = es.msearch(searches=[header, metric_multi, header, metric_simple, header, metric_complex, header, two_terms])["responses"]
out["grafana_multi"] = {str(b["key"]): [b["doc_count"], b["1"]["value"]] for b in ms[0]["aggregations"]["2"]["buckets"]}
out["grafana_multi_keys"] = [b["key_as_string"] for b in ms[0]["aggregations"]["2"]["buckets"][:1]]
out["grafana_simple_order"] = [b["key"] for b in ms[1]["aggregations"]["3"]["buckets"]]
out["grafana_simple"] = {h["key"]: {str(b["key"]): b["doc_count"] for b in h["2"]["buckets"]}
                         for h in ms[1]["aggregations"]["3"]["buckets"]}
out["grafana_complex"] = {h["key"]: {str(b["key"]): [b["doc_count"], b["1"]["value"], b["3"]["value"]] for b in h["2"]["buckets"]}
                          for h in ms[2]["aggregations"]["4"]["buckets"]}
out["two_terms"] = {h["key"]: {l["key"]: [l["doc_count"], l["avg"]["value"], l["n"]["value"]] for l in h["l"]["buckets"]}
                    for h in ms[3]["aggregations"]["h"]["buckets"]}
by_max = es.search(index="loglynx", size=0, aggs={"t": {"terms": {"field": "host.name", "order": {"m": "desc"}},
                                                       "aggs": {"m": {"max": {"field": "process.pid"}}}}})
out["order_by_max"] = [[b["key"], b["m"]["value"]] for b in by_max["aggregations"]["t"]["buckets"]]
# A named time zone with daylight saving time: local days in New York (EDT in May).
ny = es.search(index="loglynx", size=0, aggs={"d": {"date_histogram": {"field": "@timestamp",
    "calendar_interval": "day", "time_zone": "America/New_York"}}})
out["new_york_days"] = [[b["key"], b["key_as_string"], b["doc_count"]] for b in ny["aggregations"]["d"]["buckets"]]

try:
    es.search(index="loglynx", query={"wildcard": {"host.name": "web*"}})
    out["unsupported"] = "accepted"
except BadRequestError as e:
    out["unsupported"] = e.body["error"]["reason"]
try:
    es.search(index="loglynx", aggs={"a": {"percentiles": {"field": "process.pid"}}})
    out["unsupported_agg"] = "accepted"
except BadRequestError as e:
    out["unsupported_agg"] = e.body["error"]["reason"]

mapping = es.indices.get_mapping(index="loglynx")
out["mapping"] = mapping["loglynx"]["mappings"]["properties"]["host.name"]["type"]
caps = es.field_caps(index="loglynx", fields="*")
out["field_caps"] = caps["fields"]["@timestamp"]["date"]["aggregatable"]
print(json.dumps(out))
