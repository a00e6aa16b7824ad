-- Shared by every part of a composed script (features/roundtrip.py prepends it once).
local function split(str, sep)  -- sep: one plain character; keeps empty fields
  local out, pos = {}, 1
  while true do
    local j = string.find(str, sep, pos, true)
    if not j then out[#out + 1] = string.sub(str, pos); return out end
    out[#out + 1] = string.sub(str, pos, j - 1)
    pos = j + 1
  end
end

-- v (numbers) as the JSON array cjson.encode writes (it formats each with %.14g), each
-- distinct number formatted once per call: most are the same few small counts.
local formatted = {}
local function json_numbers(v)
  local out = {}
  for i = 1, #v do
    local x = v[i]
    local s = formatted[x]
    if not s then s = string.format('%.14g', x); formatted[x] = s end
    out[i] = s
  end
  return '[' .. table.concat(out, ',') .. ']'
end

-- Sorted sets of event times (compute.lua, graph.lua). newest: key's newest members at or
-- before ts, of any age, at most lim (a string), each followed by its score as a number.
local function newest(key, ts, lim)
  local r = redis.call('ZREVRANGEBYSCORE', key, ts, '-inf', 'WITHSCORES', 'LIMIT', '0', lim)
  for j = 2, #r, 2 do r[j] = tonumber(r[j]) end
  return r
end
-- r (from newest) cut to its members with a score above low
local function above(r, low)
  local n = 0
  for j = 2, #r, 2 do
    if r[j] <= low then break end
    n = j
  end
  for j = #r, n + 1, -1 do r[j] = nil end
  return r
end
-- The upkeep of a sorted set of event times (compute.lua, graph.lua) after member was
-- written at t, from r = newest(key, t, lim) read after the write. Members older than keep
-- (retention + lateness) behind t are trimmed when r shows one, or, r full (it cannot show
-- them), on the first write in t's bucket (quarter(t, ttl, keep)); the expiry (ttl, wall
-- clock) is renewed on that first write. Reads look at most retention back, so for an
-- application within the lateness of the newest one nothing a trim removes is ever read:
-- when trims happen changes no value. A bucket is a quarter of the expiry's slack beyond
-- keep: with event times no later than the wall clock, a key then outlives every read
-- within the lateness of its members by three quarters of the slack.
local function quarter(t, ttl, keep)
  local every = math.floor((tonumber(ttl) - keep) / 4)
  return every > 0 and t - t % every or math.huge
end
local function upkeep(key, r, lim, member, t, keep, bucket, ttl)
  local first = true  -- no other member in t's bucket yet
  for j = 2, #r, 2 do
    if r[j] < bucket then break end
    if r[j - 1] ~= member then first = false; break end
  end
  if (#r < 2 * lim and r[#r] < t - keep) or (#r == 2 * lim and first) then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (t - keep))
  end
  if first then redis.call('PEXPIRE', key, ttl) end
end

-- Write member at t (ts: the same as a string) to key and return what newest(key, ts,
-- slim) then reads, and whether member was added. A key that did not exist is not read
-- back (it holds member alone): EXISTS costs a tenth of the read, and most keys of a
-- first-time applicant are new. The upkeep follows unless peek (the caller undoes then).
local function record(key, member, t, ts, lim, slim, keep, bucket, ttl, peek)
  local fresh = redis.call('EXISTS', key) == 0
  local added = redis.call('ZADD', key, ts, member)
  local r
  if fresh then r = {member, t} else r = newest(key, ts, slim) end
  if not peek then upkeep(key, r, lim, member, t, keep, bucket, ttl) end
  return r, added
end
