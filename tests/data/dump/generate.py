#!/usr/bin/env python3
"""Regenerates cases.txt: DUMP payloads taken from real servers, with the logical value
each one holds, for the encoder's byte-equality tests (tests/unit/rdb_encoder_test.cc).

Usage: start the servers by hand on free loopback ports, then
  generate.py <port>:<label>:<rdb-version> [...] > cases.txt
e.g. generate.py 7391:valkey-8.0.1:11 7392:redis-7.0.15:10

Format of cases.txt (one directive a line, '#' starts a comment):
  case <name> <server-label> <rdb-version> <type> <exact|loose>
  str x<hex>                   string value
  el x<hex>                    list element (in order) / set member
  z x<member-hex> <score>      zset entry; score as Python repr (round-trip exact)
  f x<field-hex> x<value-hex>  hash field (in the server's order)
  sm <last> <first> <max-deleted> <entries-added>          stream metadata
  e <ms-seq> x<f>:x<v> ...     stream entry
  g x<name> <last-delivered> <entries-read>                 consumer group
  c x<name> <seen-ms> <active-ms>                           consumer of the last group
  p <id> x<consumer> <delivery-count> <delivery-time-ms>    PEL entry of the last group
  encoding <OBJECT ENCODING reply>
  dump_lzf <hex>      DUMP with rdbcompression yes (the default)
  dump_plain <hex>    DUMP with rdbcompression no
  end
'exact' means the payload is a function of the logical value (the encoder must reproduce
it byte for byte); 'loose' means it depends on hash-table order or history.
"""
import socket
import sys


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.rd = self.sock.makefile("rb")

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            elif isinstance(a, (int, float)):
                a = repr(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.read()

    def read(self):
        line = self.rd.readline()[:-2]
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self.rd.read(n + 2)[:-2]
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError("unexpected reply " + repr(line))


def x(b):
    if isinstance(b, str):
        b = b.encode()
    return "x" + b.hex()


def pairs(flat):
    return {flat[i].decode() if isinstance(flat[i], bytes) else flat[i]: flat[i + 1]
            for i in range(0, len(flat), 2)}


def sid(b):
    return b.decode() if isinstance(b, bytes) else b


def cases(rdb):
    """(name, type, exact, commands, description-lines)"""
    out = []

    def add(name, typ, exact, cmds, desc):
        out.append((name, typ, exact, cmds, desc))

    for name, s in [("str_short", b"hello"), ("str_empty", b""), ("str_int8", b"7"),
                    ("str_int16", b"12345"), ("str_int32", b"-100000"),
                    ("str_int_over32", b"4294967296"), ("str_noncanonical_int", b"0123"),
                    ("str_neg_zero", b"-0"), ("str_binary", b"\x00\xff\r\n"),
                    ("str_compressible", b"a" * 45),
                    ("str_incompressible", bytes(range(33, 33 + 40))),
                    ("str_big", bytes((i * 7919) % 251 for i in range(6000)))]:
        add(name, "string", True, [["SET", "k", s]], ["str " + x(s)])

    def lst(name, elems, exact=True):
        cmds = [["RPUSH", "k"] + elems[i:i + 500] for i in range(0, len(elems), 500)]
        add(name, "list", exact, cmds, ["el " + x(e) for e in elems])

    lst("list_small", [b"a", b"b", b"c"])
    lst("list_ints", [b"0", b"1", b"127", b"128", b"-1", b"-4096", b"4095", b"4096", b"-32768",
                      b"32767", b"40000", b"-8388608", b"8388607", b"8388608", b"2147483647",
                      b"-2147483649", b"5000000000", b"9223372036854775807",
                      b"-9223372036854775808", b"9223372036854775808", b"007", b"-0", b"+1"])
    lst("list_sizes", [b"s" * 63, b"m" * 64, b"t" * 4095, b"u" * 4096, b"v" * 5000])
    lst("list_multinode", [b"%020d" % i for i in range(800)])
    lst("list_tiny_elements_multinode", [b"%d" % (i % 10) for i in range(6000)])
    lst("list_big_elements", [b"%05d" % i + b"B" * 8995 for i in range(3)])
    lst("list_at_8192", [b"C" * 8192, b"D" * 8193, b"e"])

    def st(name, members, exact):
        add(name, "set", exact, [["SADD", "k"] + members], ["el " + x(m) for m in members])

    st("set_intset16", [b"3", b"1", b"-7", b"2"], True)
    st("set_intset32", [b"70000", b"1", b"-70000"], True)
    st("set_intset64", [b"5000000000", b"2", b"-9223372036854775808"], True)
    st("set_intset_512", [b"%d" % (i * 3) for i in range(512)], True)
    st("set_int_513", [b"%d" % (i * 3) for i in range(513)], False)
    st("set_small_strings", [b"a", b"bb", b"1", b"-0"], rdb >= 11)
    st("set_128_strings", [b"m%d" % i for i in range(128)], rdb >= 11)
    st("set_129_strings", [b"m%d" % i for i in range(129)], False)
    st("set_long_member", [b"a", b"L" * 65], False)

    def zs(name, entries, exact, from_server=True):
        args = []
        for m, s in entries:
            args += [repr(s), m]
        # The description normally records the scores the server holds (Redis 7.0 turns a
        # -0 score into 0 even in a skiplist); from_server=False keeps the input scores.
        desc = None if from_server else ["z %s %r" % (x(m), s) for m, s in entries]
        add(name, "zset", exact, [["ZADD", "k"] + args], desc)

    special = [(b"a", 1e-07), (b"b", 5e-324), (b"c", 1e300), (b"d", float("inf")),
               (b"e", float("-inf")), (b"f", 1.5), (b"g", 0.1), (b"h", 1e17),
               (b"i", 4503599627370496.0), (b"j", -2.5), (b"k", 3.0), (b"l", 0.0),
               (b"m", 1e19), (b"n", 4611686018427387904.0), (b"o", -1e-300),
               (b"p", 123456789.125), (b"q", 1e21), (b"r", 0.0001)]
    zs("zset_small_scores", special, True)
    # The server stores -0 as the integer 0 in a listpack; the encoder keeps the sign.
    zs("zset_small_negzero", [(b"z", -0.0), (b"y", 2.0)], False, from_server=False)
    zs("zset_128", [(b"m%03d" % i, i * 0.5 - 20) for i in range(128)], True)
    zs("zset_skiplist_129", [(b"m%03d" % i, (i % 17) * 1.25 - 3) for i in range(129)], True)
    zs("zset_skiplist_special", special + [(b"neg0", -0.0), (b"L" * 65, 7.0)], True)

    def hs(name, fields, exact):
        args = []
        for f, v in fields:
            args += [f, v]
        add(name, "hash", exact, [["HSET", "k"] + args],
            ["f %s %s" % (x(f), x(v)) for f, v in fields])

    hs("hash_small", [(b"a", b"1"), (b"b", b"hello"), (b"100", b"-3"), (b"", b"")], True)
    hs("hash_value_64", [(b"f", b"v" * 64), (b"g", b"12")], True)
    hs("hash_value_65", [(b"f", b"v" * 65)], True)
    # hash-max-listpack-entries defaults to 512 (zset and set listpacks: 128).
    hs("hash_200", [(b"f%d" % i, b"%d" % (i * 1000)) for i in range(200)], True)
    hs("hash_512", [(b"f%d" % i, b"v%d" % i) for i in range(512)], True)
    hs("hash_513", [(b"f%d" % i, b"v%d" % i) for i in range(513)], False)

    def strm(name, cmds, exact):
        add(name, "stream", exact, cmds, None)

    strm("stream_simple", [["XADD", "k", "1-1", "a", "1", "b", "two"],
                           ["XADD", "k", "1-2", "a", "3", "b", "four"],
                           ["XADD", "k", "5-0", "a", "-7", "b", ""]], True)
    strm("stream_mixed_fields", [["XADD", "k", "100-0", "a", "1"],
                                 ["XADD", "k", "100-1", "x", "1", "y", "2"],
                                 ["XADD", "k", "200-5", "a", "9"],
                                 ["XADD", "k", "300-0", "a", "1", "b", "2"]], True)
    many = [["XADD", "k", "%d-%d" % (1000 + i // 3, i % 3), "field", "value%d" % i, "n",
             "%d" % i] for i in range(250)]
    strm("stream_multinode", many, True)
    big = [["XADD", "k", "%d-0" % (i + 1), "f", "V" * 600] for i in range(20)]
    strm("stream_bytes_split", big, True)
    groups = [["XADD", "k", "10-0", "f", "1"], ["XADD", "k", "20-0", "f", "2"],
              ["XADD", "k", "30-0", "f", "3"], ["XADD", "k", "40-0", "g", "4"],
              ["XGROUP", "CREATE", "k", "grp", "0"],
              ["XGROUP", "CREATE", "k", "123", "$"],
              ["XGROUP", "CREATE", "k", "a-group", "10-0"],
              ["XREADGROUP", "GROUP", "grp", "alice", "COUNT", "2", "STREAMS", "k", ">"],
              ["XREADGROUP", "GROUP", "grp", "bob", "COUNT", "1", "STREAMS", "k", ">"],
              ["XREADGROUP", "GROUP", "grp", "alice", "STREAMS", "k", "0"],
              ["XACK", "k", "grp", "20-0"],
              ["XGROUP", "CREATECONSUMER", "k", "grp", "idle"],
              ["XREADGROUP", "GROUP", "a-group", "7", "COUNT", "1", "STREAMS", "k", ">"]]
    strm("stream_groups", groups, True)
    strm("stream_empty_group", [["XGROUP", "CREATE", "k", "g", "$", "MKSTREAM"]], True)
    strm("stream_deleted", [["XADD", "k", "1-0", "a", "1"], ["XADD", "k", "2-0", "a", "2"],
                            ["XADD", "k", "3-0", "a", "3"], ["XDEL", "k", "2-0"]], False)
    strm("stream_all_deleted", [["XADD", "k", "1-0", "a", "1"], ["XDEL", "k", "1-0"]], False)
    return out


def zset_desc(c):
    flat = c.call("ZRANGE", "k", "0", "-1", "WITHSCORES")
    return ["z %s %r" % (x(flat[i]), float(flat[i + 1])) for i in range(0, len(flat), 2)]


def stream_desc(c):
    info = pairs(c.call("XINFO", "STREAM", "k", "FULL", "COUNT", "0"))
    lines = ["sm %s %s %s %d" % (sid(info["last-generated-id"]),
                                 sid(info["recorded-first-entry-id"]),
                                 sid(info["max-deleted-entry-id"]), info["entries-added"])]
    for eid, fv in info["entries"]:
        fields = " ".join("%s:%s" % (x(fv[i]), x(fv[i + 1])) for i in range(0, len(fv), 2))
        lines.append(("e %s %s" % (sid(eid), fields)).rstrip())
    for graw in info["groups"]:
        g = pairs(graw)
        er = g["entries-read"]
        lines.append("g %s %s %d" % (x(g["name"]), sid(g["last-delivered-id"]),
                                     -1 if er is None else er))
        for craw in g["consumers"]:
            cinfo = pairs(craw)
            lines.append("c %s %d %d" % (x(cinfo["name"]), cinfo["seen-time"],
                                         cinfo.get("active-time", -1)))
        for pid, consumer, dtime, count in g["pending"]:
            lines.append("p %s %s %d %d" % (sid(pid), x(consumer), count, dtime))
    return lines


def main():
    print("# Generated by generate.py from live servers; see its docstring for the format.")
    for spec in sys.argv[1:]:
        port, label, rdb = spec.split(":")
        c = Conn(int(port))
        for name, typ, exact, cmds, desc in cases(int(rdb)):
            c.call("FLUSHALL")
            for cmd in cmds:
                c.call(*cmd)
            if desc is None:
                desc = zset_desc(c) if typ == "zset" else stream_desc(c)
            enc = c.call("OBJECT", "ENCODING", "k")
            c.call("CONFIG", "SET", "rdbcompression", "yes")
            lzf = c.call("DUMP", "k")
            c.call("CONFIG", "SET", "rdbcompression", "no")
            plain = c.call("DUMP", "k")
            c.call("CONFIG", "SET", "rdbcompression", "yes")
            print("case %s %s %s %s %s" % (name, label, rdb, typ, "exact" if exact else "loose"))
            print("encoding " + enc.decode() if isinstance(enc, bytes) else "encoding " + enc)
            for line in desc:
                print(line)
            print("dump_lzf " + lzf.hex())
            print("dump_plain " + plain.hex())
            print("end")


if __name__ == "__main__":
    main()
