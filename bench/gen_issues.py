#!/usr/bin/env python3
"""Fills OWNER/REPO of a labforge database with synthetic issues for bench/issues.sh.

    python3 bench/gen_issues.py --owner bench --repo tracker --issues 100000 --comments 300000 \
        | psql -v ON_ERROR_STOP=1 -q DATABASE

Prints SQL (COPY blocks) on stdout. Words come from a homelab vocabulary plus a long tail of
5,000 rarer tokens, drawn with a skew so searches meet common, medium and rare terms as real text
would. 20 labels: `bug` on every sixth issue (all open), `needs-hardware` on one in two hundred, the others
on about one in twenty-five each. Every third issue is closed. Seeded, so runs compare.
"""
import argparse
import random
import sys

VOCAB = """the a to of and in is it for on with not after when from dns zone record nginx proxy
certificate renew expired letsencrypt traefik docker compose container restart crash fails
failing failed timeout backup restic snapshot borg nas zfs pool scrub disk smart raid mirror
firewall rule nftables iptables vlan switch router dhcp lease ipv6 wireguard tunnel vpn peer
ansible playbook role inventory host group variable template handler terraform state plan
proxmox vm lxc kernel upgrade reboot grafana prometheus alert exporter scrape loki log
retention home assistant zigbee mqtt broker sensor automation pihole blocklist unbound
resolver cache ttl serial soa ns mx txt spf dkim dmarc mail postfix dovecot smtp relay
kubernetes k3s node pod ingress helm chart storage longhorn nfs mount permission uid gid
ssh key rotate password vault secret token expiry monitoring uptime kuma ping latency packet
loss mtu jumbo frame bond lacp ups battery shutdown power outage fan temperature noise rack""".split()
VOCAB += [f"host{i}" for i in range(5000)]
LABELS = [("bug", "#d73a4a"), ("enhancement", "#a2eeef"), ("dns", "#0e8a16"), ("network", "#1d76db"),
          ("storage", "#5319e7"), ("backup", "#fbca04"), ("security", "#b60205"),
          ("monitoring", "#c5def5"), ("docs", "#0075ca"), ("question", "#d876e3"),
          ("wontfix", "#ffffff"), ("duplicate", "#cfd3d7"), ("k8s", "#006b75"), ("mail", "#e4e669"),
          ("power", "#f9d0c4"), ("upgrade", "#bfdadc"), ("ansible", "#c2e0c6"),
          ("proxmox", "#fef2c0"), ("good-first-issue", "#7057ff"), ("needs-hardware", "#000000")]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--owner", required=True)
    p.add_argument("--repo", required=True)
    p.add_argument("--issues", type=int, default=100_000)
    p.add_argument("--comments", type=int, default=300_000)
    a = p.parse_args()
    rnd = random.Random(42)
    n = len(VOCAB)
    # Skewed towards the start of the vocabulary, like word frequencies.
    weights = [1.0 / (i + 1) ** 0.9 for i in range(n)]
    cum = []
    total = 0.0
    for w in weights:
        total += w
        cum.append(total)

    def words(k):
        return " ".join(rnd.choices(VOCAB, cum_weights=cum, k=k))

    out = sys.stdout
    q = lambda s: "'" + s.replace("'", "''") + "'"
    out.write("BEGIN;\n")
    out.write(f"""CREATE TEMP TABLE target AS
  SELECT r.id AS repo_id, r.owner_id AS user_id FROM repositories r JOIN users u ON u.id = r.owner_id
  WHERE lower(u.name) = lower({q(a.owner)}) AND lower(r.name) = lower({q(a.repo)});
DO $$ BEGIN
  IF (SELECT count(*) FROM target) <> 1 THEN RAISE 'no such repository'; END IF;
  IF EXISTS (SELECT 1 FROM issues WHERE repo_id = (SELECT repo_id FROM target)) THEN
    RAISE 'the repository already has issues'; END IF;
END $$;
CREATE TEMP TABLE gen_issues (number BIGINT, title TEXT, body TEXT, closed BOOLEAN, age_min INT);
CREATE TEMP TABLE gen_comments (number BIGINT, body TEXT);
""")
    out.write("COPY gen_issues FROM stdin;\n")
    for num in range(1, a.issues + 1):
        title = words(3 + num % 6).capitalize()
        body = words(20 + num % 60)
        closed = "t" if num % 3 == 0 else "f"
        out.write(f"{num}\t{title}\t{body}\t{closed}\t{a.issues - num}\n")
    out.write("\\.\n")
    out.write("COPY gen_comments FROM stdin;\n")
    for _ in range(a.comments):
        out.write(f"{rnd.randint(1, a.issues)}\t{words(rnd.randint(10, 40))}\n")
    out.write("\\.\n")
    labels = ", ".join(f"({q(name)}, {q(color)})" for name, color in LABELS)
    out.write(f"""
INSERT INTO labels (repo_id, name, color)
SELECT t.repo_id, l.name, l.color FROM target t, (VALUES {labels}) AS l(name, color);
INSERT INTO issues (repo_id, number, author_id, title, body, state, closed_by_id, closed_at,
                    created_at, updated_at)
SELECT t.repo_id, g.number, t.user_id, g.title, g.body,
       CASE WHEN g.closed THEN 'closed' ELSE 'open' END, CASE WHEN g.closed THEN t.user_id END,
       CASE WHEN g.closed THEN now() - interval '1 minute' * g.age_min END,
       now() - interval '1 minute' * g.age_min - interval '1 day', now() - interval '1 minute' * g.age_min
FROM target t, gen_issues g;
INSERT INTO issue_counters (repo_id, last_number, open_count)
SELECT t.repo_id, {a.issues}, (SELECT count(*) FROM gen_issues WHERE NOT closed) FROM target t;
INSERT INTO issue_labels (label_id, issue_id, number, is_open)
SELECT l.id, i.id, i.number, i.state = 'open' FROM target t JOIN issues i ON i.repo_id = t.repo_id JOIN labels l ON l.repo_id = t.repo_id
WHERE (l.name = 'bug' AND i.number % 6 = 1)
   OR (l.name = 'needs-hardware' AND i.number % 200 = 7)
   OR (l.name NOT IN ('bug', 'needs-hardware') AND abs(hashint8(i.number * 31 + l.id)) % 25 = 0);
INSERT INTO issue_comments (issue_id, author_id, body, created_at, updated_at)
SELECT i.id, t.user_id, c.body, i.created_at + interval '1 hour', i.created_at + interval '1 hour'
FROM target t JOIN gen_comments c ON true JOIN issues i ON i.repo_id = t.repo_id AND i.number = c.number;
UPDATE issues i SET comment_count = c.n, comments_search = c.v
FROM (SELECT issue_id, count(*) AS n, to_tsvector('english', string_agg(body, E'\\n' ORDER BY id)) AS v
      FROM issue_comments GROUP BY issue_id) c
WHERE c.issue_id = i.id AND i.repo_id = (SELECT repo_id FROM target);
INSERT INTO issue_events (issue_id, actor_id, kind, created_at)
SELECT i.id, i.author_id, 'opened', i.created_at FROM target t JOIN issues i ON i.repo_id = t.repo_id;
INSERT INTO issue_events (issue_id, actor_id, kind, comment_id, created_at)
SELECT c.issue_id, c.author_id, 'commented', c.id, c.created_at
FROM target t JOIN issues i ON i.repo_id = t.repo_id JOIN issue_comments c ON c.issue_id = i.id;
INSERT INTO issue_events (issue_id, actor_id, kind, created_at)
SELECT i.id, i.closed_by_id, 'closed', i.closed_at FROM target t JOIN issues i ON i.repo_id = t.repo_id
WHERE i.state = 'closed';
COMMIT;
ANALYZE issues; ANALYZE issue_labels; ANALYZE issue_comments; ANALYZE labels; ANALYZE issue_events;
""")


if __name__ == "__main__":
    main()
