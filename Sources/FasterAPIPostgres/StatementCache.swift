import PostgresNIO

/// The prepared statements of one connection: a bounded cache, least recently used dropped
/// first, keyed by statement text and parameter types. A value type: it decides, the connection
/// acts.
struct StatementCache {
    struct Key: Hashable {
        let sql: String
        let types: [PostgresDataType]
    }

    /// A prepared statement: its server-side name, and how its columns meet `Decodable` keys,
    /// worked out from its first result.
    struct Entry {
        let name: String
        var lastUse: UInt64
        var columns: ColumnMap?
        /// Whether it has run successfully (so it is prepared on the server).
        var confirmed = false
    }

    /// What to do for a statement.
    struct Lookup: Equatable {
        /// The statement's name on the connection.
        let name: String
        /// Its column map, if a result has been seen.
        let columns: ColumnMap?
        /// A statement pushed out to make room: deallocate it on the server.
        let evicted: String?
        /// Whether it has run successfully before.
        let confirmed: Bool
    }

    let capacity: Int
    private var entries: [Key: Entry] = [:]
    private var clock: UInt64 = 0
    private var nextNumber = 0
    /// Statements pushed out so far.
    private(set) var evictions = 0

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { entries.count }

    /// The statement for `key`, named afresh (and the least recently used one evicted when the
    /// cache is full) if it is not cached yet.
    mutating func lookup(_ key: Key) -> Lookup {
        clock += 1
        if let entry = entries[key] {
            entries[key]!.lastUse = clock
            return Lookup(name: entry.name, columns: entry.columns, evicted: nil, confirmed: entry.confirmed)
        }
        var evicted: String?
        if entries.count >= capacity, let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            entries[oldest.key] = nil
            evicted = oldest.value.name
            evictions += 1
        }
        // Names are never reused on a connection: the driver remembers every name it prepared.
        nextNumber += 1
        let name = "fasterapi_\(nextNumber)"
        entries[key] = Entry(name: name, lastUse: clock, columns: nil)
        return Lookup(name: name, columns: nil, evicted: evicted, confirmed: false)
    }

    /// Records that `key` ran, and its result's column map once one is known.
    mutating func confirm(_ key: Key, columns: ColumnMap?) {
        entries[key]?.confirmed = true
        if let columns { entries[key]?.columns = columns }
    }

    /// Forgets `key` if it is still named `name`: its preparation failed (the driver keeps that
    /// failure under the name) or the server dropped it, so the next use prepares it under a new
    /// name.
    mutating func forget(_ key: Key, named name: String) {
        if entries[key]?.name == name { entries[key] = nil }
    }
}
