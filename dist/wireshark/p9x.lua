-- SPDX-License-Identifier: MIT
-- p9x.lua: a Wireshark dissector for 9P2000.L and 9P2000.L.xqid.
--   tshark -X lua_script:p9x.lua --disable-protocol 9p -r capture.pcapng
-- (Wireshark's built-in 9P dissector also claims port 564 and knows only 13-byte qids.)
-- The messages and their fields come from p9x_messages.lua beside this file, generated from
-- spec/messages.json; this file is the part that is the same for every table: wire types, the
-- per-conversation dialect, TCP reassembly and registration.
--
-- Each TCP conversation follows its Tversion/Rversion: after an Rversion whose version names
-- the feature xqid ("9P2000.L.xqid", spec/xqid.md §4.1) every qid of the conversation is 21 bytes
-- (type[1] version[4] path[8] path_hi[8]); before it, and after a plain "9P2000.L" Rversion, 13.
-- A conversation whose negotiation was not captured uses the preference "Dialect before any
-- Rversion".

local here = string.match(debug.getinfo(1, "S").source, "^@(.*[/\\])") or ""
local MESSAGES = dofile(here .. "p9x_messages.lua")

-- Fields: the header, then one field per (message, field) named p9x.<message>.<field>, so that a
-- display filter names exactly one thing (p9x.rgetattr.mode); the structures every message shares
-- (qid, directory entry, walk name) have their own.
local p9x = Proto("p9x", "9P2000.L (p9x: 9P2000.L and 9P2000.L.xqid)")
local F = {}
local message_names = {}
for type, m in pairs(MESSAGES) do message_names[type] = m.name end
F.size = ProtoField.uint32("p9x.size", "size")
F.type = ProtoField.uint8("p9x.type", "type", base.DEC, message_names)
F.tag = ProtoField.uint16("p9x.tag", "tag")
F.dialect = ProtoField.string("p9x.dialect", "dialect")
F.qid = ProtoField.bytes("p9x.qid", "qid")
F.qid_type = ProtoField.uint8("p9x.qid.type", "type", base.HEX)
F.qid_version = ProtoField.uint32("p9x.qid.version", "version")
F.qid_path = ProtoField.uint64("p9x.qid.path", "path", base.HEX)
F.qid_path_hi = ProtoField.uint64("p9x.qid.path_hi", "path_hi", base.HEX)
F.dirent = ProtoField.bytes("p9x.dirent", "entry")
F.dirent_offset = ProtoField.uint64("p9x.dirent.offset", "offset")
F.dirent_type = ProtoField.uint8("p9x.dirent.type", "type")
F.dirent_name = ProtoField.string("p9x.dirent.name", "name", base.UNICODE)
F.wname = ProtoField.string("p9x.wname", "wname", base.UNICODE)
F.nwname = ProtoField.uint16("p9x.nwname", "nwname")
F.nwqid = ProtoField.uint16("p9x.nwqid", "nwqid")

local UINT = { u8 = { 1, ProtoField.uint8 }, u16 = { 2, ProtoField.uint16 },
               u32 = { 4, ProtoField.uint32 }, u64 = { 8, ProtoField.uint64 } }
for _, m in pairs(MESSAGES) do
  local prefix = "p9x." .. string.lower(m.name) .. "."
  for _, fd in ipairs(m.fields) do
    local abbrev = prefix .. fd.name
    if UINT[fd.type] then
      F[abbrev] = UINT[fd.type][2](abbrev, fd.name, fd.hex and base.HEX or base.DEC)
    elseif fd.type == "str" then
      F[abbrev] = ProtoField.string(abbrev, fd.name, base.UNICODE)
    elseif fd.type == "qid" or fd.type == "wqids" or fd.type == "wnames" then
      F[abbrev] = ProtoField.bytes(abbrev, fd.name)
    else  -- data, dirents: count[4] then count bytes
      F[abbrev .. ".count"] = ProtoField.uint32(abbrev .. ".count", fd.name .. " count")
      F[abbrev] = ProtoField.bytes(abbrev, fd.name)
    end
  end
end
local field_list = {}
for _, field in pairs(F) do table.insert(field_list, field) end
p9x.fields = field_list

local ef_malformed = ProtoExpert.new("p9x.malformed", "Malformed 9P message", expert.group.MALFORMED,
                                     expert.severity.ERROR)
p9x.experts = { ef_malformed }

p9x.prefs.default_dialect = Pref.enum("Dialect before any Rversion", 1,
  "The qid size of a conversation whose Tversion/Rversion was not captured",
  { { 1, "9P2000.L (13-byte qids)", 1 }, { 2, "9P2000.L.xqid (21-byte qids)", 2 } }, false)

-- Per conversation (both endpoints, either order): the frames at which an Rversion set the
-- dialect, in frame order. Appended on the first pass only, so later passes (a GUI re-dissecting
-- any packet) look the dialect up by frame number.
local sessions = {}
function p9x.init() sessions = {} end

local function conversation_key(pinfo)
  local a = tostring(pinfo.src) .. ":" .. tostring(pinfo.src_port)
  local b = tostring(pinfo.dst) .. ":" .. tostring(pinfo.dst_port)
  if a < b then return a .. "|" .. b end
  return b .. "|" .. a
end

-- Whether a version string names the feature xqid: "9P2000.L" then ".feature"s (spec/xqid.md §4.1).
local function names_xqid(version)
  if string.sub(version, 1, 9) ~= "9P2000.L." then return false end
  for feature in string.gmatch(string.sub(version, 10), "[^.]+") do
    if feature == "xqid" then return true end
  end
  return false
end

local function is_xqid(pinfo)
  local changes = sessions[conversation_key(pinfo)]
  local xqid = p9x.prefs.default_dialect == 2
  if changes then
    for _, change in ipairs(changes) do
      if change.frame < pinfo.number then xqid = change.xqid else break end
    end
  end
  return xqid
end

local function add_qid(tree, tvb, off, xqid, label)
  local size = xqid and 21 or 13
  local node = tree:add(F.qid, tvb(off, size))
  node:set_text(label)
  node:add_le(F.qid_type, tvb(off, 1))
  node:add_le(F.qid_version, tvb(off + 1, 4))
  node:add_le(F.qid_path, tvb(off + 5, 8))
  if xqid then node:add_le(F.qid_path_hi, tvb(off + 13, 8)) end
  return off + size
end

-- A length-prefixed string at off: the field covers len[2] and the bytes, its value the bytes.
local function add_str(tree, field, tvb, off)
  local len = tvb(off, 2):le_uint()
  tree:add(field, tvb(off, 2 + len), tvb(off + 2, len):string(ENC_UTF_8))
  return off + 2 + len
end

-- Decodes one field of a message body; errors (a field running past the frame) are raised by the
-- tvb and caught by the caller.
local function dissect_field(tree, tvb, off, abbrev, fd, xqid)
  if UINT[fd.type] then
    local n = UINT[fd.type][1]
    tree:add_le(F[abbrev], tvb(off, n))
    return off + n
  elseif fd.type == "str" then
    return add_str(tree, F[abbrev], tvb, off)
  elseif fd.type == "qid" then
    return add_qid(tree, tvb, off, xqid, fd.name)
  elseif fd.type == "data" then
    local count = tvb(off, 4):le_uint()
    tree:add_le(F[abbrev .. ".count"], tvb(off, 4))
    if count > 0 then tree:add(F[abbrev], tvb(off + 4, count)) end
    return off + 4 + count
  elseif fd.type == "dirents" then
    local count = tvb(off, 4):le_uint()
    tree:add_le(F[abbrev .. ".count"], tvb(off, 4))
    local pos, stop = off + 4, off + 4 + count
    while pos < stop do
      local qsize = xqid and 21 or 13
      local name_len = tvb(pos + qsize + 9, 2):le_uint()
      local entry = tree:add(F.dirent, tvb(pos, qsize + 11 + name_len))
      entry:set_text("entry")
      local p = add_qid(entry, tvb, pos, xqid, "qid")
      entry:add_le(F.dirent_offset, tvb(p, 8))
      entry:add_le(F.dirent_type, tvb(p + 8, 1))
      pos = add_str(entry, F.dirent_name, tvb, p + 9)
    end
    return stop
  elseif fd.type == "wnames" then
    local n = tvb(off, 2):le_uint()
    tree:add_le(F.nwname, tvb(off, 2))
    local pos = off + 2
    for _ = 1, n do pos = add_str(tree, F.wname, tvb, pos) end
    return pos
  elseif fd.type == "wqids" then
    local n = tvb(off, 2):le_uint()
    tree:add_le(F.nwqid, tvb(off, 2))
    local pos = off + 2
    for _ = 1, n do pos = add_qid(tree, tvb, pos, xqid, "wqid") end
    return pos
  end
  error("unknown wire type " .. fd.type)
end

-- The packet whose Info column holds the first 9P message of the packet; later ones are appended.
local info_frame = nil

-- One whole frame (size[4] type[1] tag[2] body), as split off by dissect_tcp_pdus.
local function dissect_frame(tvb, pinfo, tree)
  local size = tvb(0, 4):le_uint()
  local type = tvb(4, 1):uint()
  local tag = tvb(5, 2):le_uint()
  local m = MESSAGES[type]
  local xqid = is_xqid(pinfo)
  local name = m and m.name or ("type " .. type)
  local root = tree:add(p9x, tvb(0, size), "9P " .. name)
  root:add_le(F.size, tvb(0, 4))
  root:add(F.type, tvb(4, 1))
  root:add_le(F.tag, tvb(5, 2))
  root:add(F.dialect, xqid and "9P2000.L.xqid" or "9P2000.L"):set_generated()
  pinfo.cols.protocol = "9P"
  if info_frame ~= pinfo.number then
    info_frame = pinfo.number
    pinfo.cols.info = name .. " tag=" .. tag
  else
    pinfo.cols.info:append(", " .. name .. " tag=" .. tag)
  end
  if not m then
    root:add_proto_expert_info(ef_malformed, "unknown message type " .. type)
    return size
  end
  local prefix = "p9x." .. string.lower(m.name) .. "."
  local ok, err = pcall(function()
    local off = 7
    for _, fd in ipairs(m.fields) do off = dissect_field(root, tvb, off, prefix .. fd.name, fd, xqid) end
    if off ~= size then error(size - off .. " bytes after the last field") end
  end)
  if not ok then root:add_proto_expert_info(ef_malformed, tostring(err)) end
  -- The dialect changes with each Rversion, for the frames after this one.
  if m.name == "Rversion" and ok and not pinfo.visited then
    local key = conversation_key(pinfo)
    sessions[key] = sessions[key] or {}
    local vlen = tvb(11, 2):le_uint()
    table.insert(sessions[key], { frame = pinfo.number, xqid = names_xqid(tvb(13, vlen):string()) })
  end
  return size
end

local function frame_length(tvb, pinfo, off)
  return tvb(off, 4):le_uint()
end

function p9x.dissector(tvb, pinfo, tree)
  dissect_tcp_pdus(tvb, tree, 7, frame_length, dissect_frame)
  return tvb:len()
end

-- The usual 9P port, and "Decode As" for any other (tcp.port, e.g. 5640).
local tcp_port = DissectorTable.get("tcp.port")
tcp_port:add(564, p9x)
tcp_port:add_for_decode_as(p9x)
