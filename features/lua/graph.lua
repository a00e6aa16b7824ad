-- The identity graph: record applications and return each one's graph features as of its
-- own event time. Run in the same round trip as compute.lua (one pipeline per batch).
--
-- ARGV[1] (comma-separated): prefix, retention_ms, lateness_ms, key_ttl_ms, vector_ttl_ms,
--          ids_ttl_ms (how long an application's nodes are kept for look-back alerts), hub (apps in 30 d above which an identifier links nothing), component cap,
--          nW, W1..WnW (link windows; the last is the graph window)
-- ARGV[2]: applications separated by \30, fields by \31: app_id, event_time, h_id,
--          then one hash per NODE kind below ('' when the application has none),
--          person key hash (surname + date of birth), email hash, email skeleton hash, mode
-- mode 'p' (peek: a quote request): the same features as if the application were made now,
--   and the graph left as it was found (its members removed again, nothing trimmed or stored).
-- Returns one JSON array per application:
--   [linked per W..., linked via address, employer, bank (last W), two_hop, component,
--    component_fraud, same_person_at_address, email_digit_variants, component_declined]
-- Graph: applications with event time in (t - W, t] link their identity to each of their
-- identifier nodes. An identifier with more than HUB applications in the graph window is
-- a hub (a carrier or office IP, a large employer): it links nothing. Linked = other
-- identities that used one of THIS application's (non-hub) identifiers in the window.
-- Two-hop and component: breadth-first over identities in the graph window from this
-- application's identity, stopped at CCAP identities (so both are exact below CCAP).
-- Component declined: its identities with a DECLINE recorded (decline.lua) for an
-- application with event time in (t - GW, t), strictly before this one.
-- Idempotent: an application already computed returns its stored result.
-- split(str, sep): features/lua/lib.lua
local H = split(ARGV[1], ',')
local P = H[1] .. ':g:'
local RET, LATE = tonumber(H[2]), tonumber(H[3])
local KEY_TTL, VEC_TTL = tonumber(H[4]), tonumber(H[5])
local IDS_TTL = tonumber(H[6])
local HUB, CCAP = tonumber(H[7]), tonumber(H[8])
local nW = tonumber(H[9]); local W = {}
for k = 1, nW do W[k] = tonumber(H[9 + k]) end
local GW = W[nW]
local NODES = {'dev', 'ph', 'em', 'ip', 'ad', 'emp', 'bk'}
local COSTLY = {ad = 1, emp = 2, bk = 3}  -- reported apart (last window)
local FP = H[1] .. ':f:id:'  -- confirmed-fraud flags of identities (fraud.lua)

local peek, undo = false, {}
local function add(key, t, member)
  local added = redis.call('ZADD', key, t, member)
  if peek then
    if added == 1 then undo[#undo + 1] = {key, member} end
    return
  end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (t - RET - LATE))
  redis.call('PEXPIRE', key, KEY_TTL)
end

-- members of an identifier node in the graph window, or nil for a hub
local page_cache = {}
local function page(key, t)
  local r = page_cache[key]
  if r == nil then
    r = redis.call('ZREVRANGEBYSCORE', key, t, '(' .. (t - GW), 'WITHSCORES', 'LIMIT', 0, HUB + 1)
    if #r / 2 > HUB then r = false end
    page_cache[key] = r
  end
  return r or nil
end

local function member_identity(m)  -- "app|idh|aux" -> idh, aux
  local a = string.find(m, '|', 1, true)
  local b = string.find(m, '|', a + 1, true)
  return string.sub(m, a + 1, b - 1), string.sub(m, b + 1)
end

local out = {}
for _, blob in ipairs(split(ARGV[2], '\30')) do
  local f = split(blob, '\31')
  local app, t, idh = f[1], tonumber(f[2]), f[3]
  local vkey = P .. 'v:' .. app
  peek, undo = f[14] == 'p', {}
  local cached = (not peek) and redis.call('GET', vkey)
  if cached then out[#out + 1] = cached else
    page_cache = {}
    local nodes = {}
    local pk, emh, skh = f[11], f[12], f[13]
    for k = 1, #NODES do
      local h = f[3 + k]
      if h ~= '' then
        local node = NODES[k] .. ':' .. h
        nodes[#nodes + 1] = node
        add(P .. node, t, app .. '|' .. idh .. '|' .. ((NODES[k] == 'ad') and pk or ''))
      end
    end
    local node_list = table.concat(nodes, ',')
    add(P .. 'id:' .. idh, t, app .. '|' .. node_list)
    if not peek then redis.call('SET', P .. 'a:' .. app, idh .. ',' .. node_list, 'PX', IDS_TTL) end
    add(P .. 'sk:' .. skh, t, app .. '|' .. emh)
    -- linked identities per window, through this application's identifiers
    local best, costly = {}, {{}, {}, {}}
    local ncost = {0, 0, 0}
    local same_person, nsame = {}, 0
    for _, node in ipairs(nodes) do
      local kind = string.match(node, '^([a-z]+):')
      local r = page(P .. node, t)
      if r then
        for j = 1, #r, 2 do
          local other, aux = member_identity(r[j])
          if other ~= idh then
            local s = tonumber(r[j + 1])
            if (best[other] or -1) < s then best[other] = s end
            local c = COSTLY[kind]
            if c and not costly[c][other] then costly[c][other] = true; ncost[c] = ncost[c] + 1 end
            if kind == 'ad' and aux == pk and not same_person[other] then
              same_person[other] = true; nsame = nsame + 1
            end
          end
        end
      end
    end
    local res = {}
    for w = 1, nW do
      local n = 0
      for _, s in pairs(best) do if s > t - W[w] then n = n + 1 end end
      res[#res + 1] = n
    end
    for c = 1, 3 do res[#res + 1] = ncost[c] end
    -- breadth-first over identities in the graph window
    local seen, order, frontier = {[idh] = true}, {idh}, {idh}
    local seen_node, level, two_hop = {}, 0, 0
    while #frontier > 0 and #order < CCAP do
      level = level + 1
      local nxt = {}
      for _, who in ipairs(frontier) do
        if #order >= CCAP then break end
        local apps = redis.call('ZREVRANGEBYSCORE', P .. 'id:' .. who, t, '(' .. (t - GW),
                                'LIMIT', 0, HUB)
        for _, m in ipairs(apps) do
          local bar = string.find(m, '|', 1, true)
          for key in string.gmatch(string.sub(m, bar + 1), '[^,]+') do
            if not seen_node[key] and #order < CCAP then
              seen_node[key] = true
              local r = page(P .. key, t)
              if r then
                for j = 1, #r, 2 do
                  local other = member_identity(r[j])
                  if not seen[other] and #order < CCAP then
                    seen[other] = true
                    order[#order + 1] = other
                    nxt[#nxt + 1] = other
                    if level == 2 then two_hop = two_hop + 1 end
                  end
                end
              end
            end
          end
        end
      end
      frontier = nxt
    end
    local fk = {}
    for i, who in ipairs(order) do fk[i] = FP .. who end
    local flags = redis.call('MGET', unpack(fk))
    local nf = 0
    for i = 1, #order do if flags[i] and tonumber(flags[i]) <= t then nf = nf + 1 end end
    res[#res + 1] = two_hop
    res[#res + 1] = #order
    res[#res + 1] = nf
    res[#res + 1] = nsame
    -- email near matches: other emails with the same skeleton (digits removed)
    local sk = redis.call('ZREVRANGEBYSCORE', P .. 'sk:' .. skh, t, '(' .. (t - GW),
                          'LIMIT', 0, HUB)
    local emails, nem = {}, 0
    for _, m in ipairs(sk) do
      local e = string.sub(m, string.find(m, '|', 1, true) + 1)
      if e ~= emh and not emails[e] then emails[e] = true; nem = nem + 1 end
    end
    res[#res + 1] = nem
    local nd = 0
    for _, who in ipairs(order) do
      if redis.call('ZCOUNT', P .. 'dc:' .. who, '(' .. (t - GW), '(' .. t) > 0 then
        nd = nd + 1
      end
    end
    res[#res + 1] = nd
    local enc = cjson.encode(res)
    if peek then
      for _, u in ipairs(undo) do redis.call('ZREM', u[1], u[2]) end
    else
      redis.call('SET', vkey, enc, 'PX', VEC_TTL)
    end
    out[#out + 1] = enc
  end
end
return out
