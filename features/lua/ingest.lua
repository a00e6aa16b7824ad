-- Fold a batch of session events (behaviour and device) into per-session summaries.
-- One call per batch; per session only a handful of commands, never one per event.
--
-- ARGV header: prefix, session_ttl_ms, fs_ttl_ms, nB
-- then nB behaviour events (stride 5): event_id, session_id, event_time, type, inter_key_tenths
--   type: P(age view) K(eystroke) A (paste) C(orrection) F(ield focus) S(ubmit);
--   inter_key_tenths: integer tenths of a millisecond, or '' if absent
-- then device events (stride 10): event_id, session_id, event_time, h_device, h_ip,
--   emulator (0/1), rooted (0/1), ip_country, geo_country, timezone
-- Idempotent by event id (a per-session set of seen ids). Integer arithmetic only,
-- so the summary does not depend on the order events arrive in.
local P = ARGV[1]
local TTL = tonumber(ARGV[2])
local FS_TTL = tonumber(ARGV[3])
local nB = tonumber(ARGV[4])
local i = 5

local sessions, order = {}, {}
local function sess(sid)
  local s = sessions[sid]
  if not s then
    s = {ids = {}, seen = {}, b = {}, d = {}}
    sessions[sid] = s
    order[#order + 1] = sid
  end
  return s
end

for _ = 1, nB do
  local s = sess(ARGV[i + 1])
  local id = ARGV[i]
  if not s.seen[id] then
    s.seen[id] = true
    s.ids[#s.ids + 1] = id
    s.b[#s.b + 1] = i
  end
  i = i + 5
end
while i + 9 <= #ARGV do
  local s = sess(ARGV[i + 1])
  local id = ARGV[i]
  if not s.seen[id] then
    s.seen[id] = true
    s.ids[#s.ids + 1] = id
    s.d[#s.d + 1] = i
  end
  i = i + 10
end

local BF = {'bn', 'bt0', 'bt1', 'bpv', 'bks', 'bksum', 'bksq', 'bpaste', 'bcorr'}
local DF = {'dn', 'dtmax', 'didmax', 'demu', 'droot', 'ddev', 'dip', 'dipc', 'dgeoc', 'dtz'}

for _, sid in ipairs(order) do
  local s = sessions[sid]
  local skey = P .. ':s:' .. sid
  local ekey = P .. ':se:' .. sid
  local known = redis.call('SMISMEMBER', ekey, unpack(s.ids))
  local new = {}
  local isnew = {}
  for k = 1, #s.ids do
    if known[k] == 0 then new[#new + 1] = s.ids[k]; isnew[s.ids[k]] = true end
  end
  if #new > 0 then
    redis.call('SADD', ekey, unpack(new))
    local upd = {}
    local nb = 0
    for _, j in ipairs(s.b) do if isnew[ARGV[j]] then nb = nb + 1 end end
    if nb > 0 then
      local cur = redis.call('HMGET', skey, unpack(BF))
      local a = {}
      for k = 1, #BF do a[BF[k]] = tonumber(cur[k]) end
      local bn, bpv, bks, bksum, bksq, bpaste, bcorr =
        a.bn or 0, a.bpv or 0, a.bks or 0, a.bksum or 0, a.bksq or 0, a.bpaste or 0, a.bcorr or 0
      local bt0, bt1 = a.bt0, a.bt1
      for _, j in ipairs(s.b) do
        if isnew[ARGV[j]] then
          local t = tonumber(ARGV[j + 2])
          local ty = ARGV[j + 3]
          bn = bn + 1
          if (not bt0) or t < bt0 then bt0 = t end
          if (not bt1) or t > bt1 then bt1 = t end
          if ty == 'P' then bpv = bpv + 1
          elseif ty == 'A' then bpaste = bpaste + 1
          elseif ty == 'C' then bcorr = bcorr + 1
          elseif ty == 'K' then
            local ik = tonumber(ARGV[j + 4])
            if ik then bks = bks + 1; bksum = bksum + ik; bksq = bksq + ik * ik end
          end
        end
      end
      for _, x in ipairs({'bn', bn, 'bt0', bt0, 'bt1', bt1, 'bpv', bpv, 'bks', bks, 'bksum', bksum,
                          'bksq', bksq, 'bpaste', bpaste, 'bcorr', bcorr}) do
        upd[#upd + 1] = x
      end
    end
    local nd = 0
    for _, j in ipairs(s.d) do if isnew[ARGV[j]] then nd = nd + 1 end end
    if nd > 0 then
      local cur = redis.call('HMGET', skey, unpack(DF))
      local a = {}
      for k = 1, #DF do a[DF[k]] = cur[k] end
      local dn = tonumber(a.dn) or 0
      local dtmax = tonumber(a.dtmax)
      local emu, root = tonumber(a.demu) or 0, tonumber(a.droot) or 0
      local latest = {a.didmax, a.ddev, a.dip, a.dipc, a.dgeoc, a.dtz}
      for _, j in ipairs(s.d) do
        local id = ARGV[j]
        if isnew[id] then
          local t = tonumber(ARGV[j + 2])
          dn = dn + 1
          if tonumber(ARGV[j + 5]) > emu then emu = 1 end
          if tonumber(ARGV[j + 6]) > root then root = 1 end
          -- the latest event (by time, then id) supplies device, ip, countries, timezone
          if (not dtmax) or t > dtmax or (t == dtmax and id > latest[1]) then
            dtmax = t
            latest = {id, ARGV[j + 3], ARGV[j + 4], ARGV[j + 7], ARGV[j + 8], ARGV[j + 9]}
          end
          -- device first seen: earliest event time
          local fskey = P .. ':fs:' .. ARGV[j + 3]
          local fs = tonumber(redis.call('GET', fskey) or '')
          if (not fs) or fs > t then redis.call('SET', fskey, t, 'PX', FS_TTL) end
        end
      end
      for _, x in ipairs({'dn', dn, 'dtmax', dtmax, 'didmax', latest[1], 'demu', emu,
                          'droot', root, 'ddev', latest[2], 'dip', latest[3], 'dipc', latest[4],
                          'dgeoc', latest[5], 'dtz', latest[6]}) do
        upd[#upd + 1] = x
      end
    end
    redis.call('HSET', skey, unpack(upd))
    redis.call('PEXPIRE', skey, TTL)
    redis.call('PEXPIRE', ekey, TTL)
  end
end
return #order
