# Pages through every event with the official Elasticsearch Python client's point in time and
# search_after, the loop Elasticsearch documents for deep pagination, while more events are
# indexed through _bulk between pages. Prints one JSON object: what the walk saw, for the test
# to check that each event of the point in time came exactly once and the new ones did not.
import json, sys

from elasticsearch import Elasticsearch, NotFoundError

es = Elasticsearch(sys.argv[1], request_timeout=120)
pit = es.open_point_in_time(index="loglynx", keep_alive="1m")["id"]
ids, originals, late_seen, pages, totals = set(), set(), 0, 0, set()
hits_n, after, late_sent = 0, None, 0
sort = [{"@timestamp": "asc"}, {"_shard_doc": "asc"}]
while True:
    kw = {"search_after": after} if after else {}
    r = es.search(pit={"id": pit, "keep_alive": "1m"}, size=10000, sort=sort, query={"match_all": {}}, **kw)
    hits = r["hits"]["hits"]
    totals.add(r["hits"]["total"]["value"])
    if not hits:
        break
    pages += 1
    for h in hits:
        hits_n += 1
        ids.add(h["_id"])
        m = h["_source"]["message"]
        if m.startswith("orig "):
            originals.add(m)
        else:
            late_seen += 1
    after = hits[-1]["sort"]
    # Ingest goes on: these are not in the point in time.
    ops = []
    for i in range(50):
        ops.append({"index": {"_index": "loglynx"}})
        ops.append({"@timestamp": "2024-05-01T12:00:00Z", "message": f"late {pages} {i}"})
    es.bulk(operations=ops)
    late_sent += 50
es.close_point_in_time(id=pit)
try:
    es.search(pit={"id": pit}, size=1, query={"match_all": {}})
    gone = "still open"
except NotFoundError as e:
    gone = e.body["error"]["type"]
print(json.dumps({"pages": pages, "hits": hits_n, "distinct_ids": len(ids), "originals": len(originals),
                  "late_seen": late_seen, "late_sent": late_sent, "totals": sorted(totals), "closed": gone}))
