-- Merge a batch's session events, folded per session by the worker
-- (features/session_fold.py), into the per-session summaries: a handful of commands per
-- session, and no work per event unless some event was counted before.
--
-- ARGV[1] (comma-separated): prefix, session_ttl_ms, first_seen_ttl_ms
-- ARGV[2]: JSON list, per session its partial summary (numbers as decimal strings):
--   [session_id, keys, bn, bt0, bt1, bpv, bks, bksum, bksq, bpaste, bcorr,
--    dn, dtmax, didmax, demu, droot, ddev, dip, dipc, dgeoc, dtz, first_seen]
--   keys: ',k1,k2,...,' the event keys (12 hex characters: a digest of the event id, each
--   once) the partial folds; didmax: the key of the latest device event (by time, then
--   key), which gave ddev .. dtz; first_seen: {h_device, earliest time, ...}
-- ARGV[2 + i]: session i's events, JSON {times, types, inter_key_tenths, devices}: its
--   behaviour events as columns in the order of keys (times after the partial's bt0;
--   types one character each: P(age view) K(eystroke) A (paste) C(orrection) F(ield focus)
--   S(ubmit); a keystroke's interval or null), then its device events {key, time, h_device,
--   h_ip, emulator, rooted, ip_country, geo_country, timezone}. Decoded only when some key
--   of the session was counted before (an event sent again).
-- Idempotent by event key (per session, the string of keys counted so far). Integer
-- arithmetic only, so a summary does not depend on the order or batching of its events.
-- Returns {sessions, sessions with a key counted before}.
-- split(str, sep): features/lua/lib.lua
local H = split(ARGV[1], ',')
local P = H[1]
local TTL = tonumber(H[2])
local FS_TTL = tonumber(H[3])
-- the summary's fields; a partial holds FIELDS[k] at index k + 2
local FIELDS = {'bn', 'bt0', 'bt1', 'bpv', 'bks', 'bksum', 'bksq', 'bpaste', 'bcorr',
                'dn', 'dtmax', 'didmax', 'demu', 'droot', 'ddev', 'dip', 'dipc', 'dgeoc', 'dtz'}

-- The rare path: a partial of the events whose keys are not in seen, folded one by one.
local function unseen(p, blob, seen)
  local ev = cjson.decode(blob)
  local times, codes, iks, t0 = ev[1], ev[2], ev[3], tonumber(p[4])
  local q = {p[1], '', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '', 0, 0, '', '', '', '', '', {}}
  local fresh, got = {}, {}
  local function new(k)  -- not counted before, nor earlier in this batch
    if got[k] or string.find(seen, k, 1, true) then return false end
    got[k] = true
    fresh[#fresh + 1] = k
    return true
  end
  for j, dt in ipairs(times) do
    if new(string.sub(p[2], 13 * j - 11, 13 * j)) then
      local t, ty, ik = t0 + dt, string.sub(codes, j, j), iks[j]
      if q[3] == 0 or t < q[4] then q[4] = t end
      if q[3] == 0 or t > q[5] then q[5] = t end
      q[3] = q[3] + 1
      if ty == 'P' then q[6] = q[6] + 1
      elseif ty == 'A' then q[10] = q[10] + 1
      elseif ty == 'C' then q[11] = q[11] + 1
      elseif ty == 'K' and type(ik) == 'number' then
        q[7], q[8], q[9] = q[7] + 1, q[8] + ik, q[9] + ik * ik
      end
    end
  end
  for _, d in ipairs(ev[4]) do
    if new(d[1]) then
      local t = d[2]
      if q[12] == 0 or t > q[13] or (t == q[13] and d[1] > q[14]) then
        q[13], q[14], q[17], q[18], q[19], q[20], q[21] = t, d[1], d[3], d[4], d[7], d[8], d[9]
      end
      q[12] = q[12] + 1
      if d[5] == 1 then q[15] = 1 end
      if d[6] == 1 then q[16] = 1 end
      local fs = q[22]  -- each event's time: the first-seen update keeps the earliest
      fs[#fs + 1], fs[#fs + 2] = d[3], t
    end
  end
  q[2] = #fresh > 0 and (',' .. table.concat(fresh, ',') .. ',') or ','
  return q
end

local function add(a, b) return a + b end

-- Device first seen: each device's earliest event time (fs: {h_device, time, ...}).
local function first_seen(fs)
  for j = 1, #fs, 2 do
    local fskey = P .. ':fs:' .. fs[j]
    local t = tonumber(redis.call('GET', fskey) or '')
    if (not t) or t > tonumber(fs[j + 1]) then redis.call('SET', fskey, fs[j + 1], 'PX', FS_TTL) end
  end
end

-- Add partial p (values as strings or numbers) to the session's summary: a new session
-- takes the partial's values as they are; an existing one is read first.
local function merge(skey, p, exists)
  local upd = {}
  local function put(k, v) upd[#upd + 1] = FIELDS[k]; upd[#upd + 1] = v end
  local b, d = tonumber(p[3]) > 0, tonumber(p[12]) > 0
  if not exists then
    for k = b and 1 or 10, d and 19 or 9 do put(k, p[k + 2]) end
  else
    local c = redis.call('HMGET', skey, unpack(FIELDS))
    local function fold(k, f)  -- f(summary's, partial's) as numbers; the partial's if none
      local cur = tonumber(c[k])
      if not cur then put(k, p[k + 2]); return end
      local v = f(cur, tonumber(p[k + 2]))
      if v ~= cur then put(k, string.format('%d', v)) end  -- integers: exact to 2^63
    end
    if b then
      fold(1, add); fold(2, math.min); fold(3, math.max)
      for k = 4, 9 do fold(k, add) end
    end
    if d then
      fold(10, add); fold(13, math.max); fold(14, math.max)
      -- the latest device event (by time, then key) gives device, ip, countries, timezone
      local dtmax, t = tonumber(c[11]), tonumber(p[13])
      if (not dtmax) or t > dtmax or (t == dtmax and p[14] > (c[12] or '')) then
        for _, k in ipairs({11, 12, 15, 16, 17, 18, 19}) do put(k, p[k + 2]) end
      end
    end
  end
  if #upd > 0 then redis.call('HSET', skey, unpack(upd)) end
  if d then first_seen(p[22]) end
end

local sessions = cjson.decode(ARGV[2])
local slow = 0
for i, p in ipairs(sessions) do
  local skey = P .. ':s:' .. p[1]
  local ekey = P .. ':se:' .. p[1]
  local seen = redis.call('GET', ekey)
  local keys = p[2]
  if seen and string.find(seen, string.sub(keys, 2), 1, true) then
    p[2] = ','  -- the very events of an earlier call (a redelivery): every key seen
    slow = slow + 1
  elseif seen then
    for j = 2, #keys - 1, 13 do
      if string.find(seen, string.sub(keys, j, j + 11), 1, true) then
        p = unseen(p, ARGV[2 + i], seen)
        slow = slow + 1
        break
      end
    end
  end
  if #p[2] > 1 then  -- some event not counted before
    merge(skey, p, seen)
    redis.call('SET', ekey, seen and (seen .. string.sub(p[2], 2)) or p[2], 'PX', TTL)
    redis.call('PEXPIRE', skey, TTL)
  end
end
return {#sessions, slow}
