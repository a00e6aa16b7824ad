-- Record DECLINE decisions on the identity graph: each declined application's identity gets
-- the application's event time in its sorted set of declines, so graph.lua can count the
-- component's identities declined strictly before an application's event time.
-- ARGV: graph prefix, retention_ms + lateness_ms (trim), key_ttl_ms, then pairs
--       (application_id, event time of that application).
-- The identity is read from the application's record (graph.lua keeps it for ids_ttl): an
-- application never computed (a degraded decision) or expired is skipped. Idempotent: the
-- member is the application id. Returns how many applications were found.
local P = ARGV[1] .. ':g:'
local KEEP, TTL = tonumber(ARGV[2]), tonumber(ARGV[3])
local found = 0
for i = 4, #ARGV - 1, 2 do
  local rec = redis.call('GET', P .. 'a:' .. ARGV[i])
  if rec then
    found = found + 1
    local t = tonumber(ARGV[i + 1])
    local comma = string.find(rec, ',', 1, true)
    local idh = comma and string.sub(rec, 1, comma - 1) or rec
    local key = P .. 'dc:' .. idh
    redis.call('ZADD', key, t, ARGV[i])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (t - KEEP))
    redis.call('PEXPIRE', key, TTL)
  end
end
return found
