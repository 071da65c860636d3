import PostgresNIO

/// A statement about to run on a ``DB``; how its result is read decides what comes back.
///
/// Rows decode into `Decodable` types by column name (`unit_price` fills `unitPrice` under the
/// default column naming), `NULL` into optionals, `json`/`jsonb` columns into nested types.
public struct DBQuery: Sendable {
    let db: DB
    let sql: SQL

    /// Every row.
    public func all<Row: Decodable>(_ type: Row.Type = Row.self) async throws -> [Row] {
        var reader = try await start()
        var result: [Row] = []
        do {
            for try await row in reader.rows { result.append(try reader.decode(Row.self, row)) }
        } catch {
            throw DatabaseError.wrap(error)
        }
        return result
    }

    /// The only row: ``DatabaseError/Kind/noRows`` if there is none, ``DatabaseError/Kind/tooManyRows``
    /// if there are more.
    public func one<Row: Decodable>(_ type: Row.Type = Row.self) async throws -> Row {
        var reader = try await start()
        do {
            var iterator = reader.rows.makeAsyncIterator()
            guard let row = try await iterator.next() else {
                throw DatabaseError(.noRows, "no matching row")
            }
            let value = try reader.decode(Row.self, row)
            guard try await iterator.next() == nil else {
                throw DatabaseError(.tooManyRows, "the query returned more than one row")
            }
            return value
        } catch {
            throw DatabaseError.wrap(error)
        }
    }

    /// The first row, or nil if there is none (the rest are read and dropped: add `LIMIT 1`).
    public func first<Row: Decodable>(_ type: Row.Type = Row.self) async throws -> Row? {
        var reader = try await start()
        do {
            var iterator = reader.rows.makeAsyncIterator()
            return try await iterator.next().map { try reader.decode(Row.self, $0) }
        } catch {
            throw DatabaseError.wrap(error)
        }
    }

    /// The first column of the first row (`SELECT count(*) …`); ``DatabaseError/Kind/noRows``
    /// if there is none.
    public func scalar<Value: Decodable>(_ type: Value.Type = Value.self) async throws -> Value {
        let reader = try await start()
        do {
            var iterator = reader.rows.makeAsyncIterator()
            guard let row = try await iterator.next() else {
                throw DatabaseError(.noRows, "no matching row")
            }
            guard let cell = row.first else {
                throw DatabaseError(.decoding, "the query returned no column")
            }
            return try CellDecoder.decode(Value.self, from: cell)
        } catch {
            throw DatabaseError.wrap(error)
        }
    }

    /// Rows as tuples of column values, by position: `.tuples(Int.self, String.self)`.
    public func tuples<each Column: PostgresDecodable>(_ types: repeat (each Column).Type) async throws
        -> [(repeat each Column)]
    {
        let reader = try await start()
        var result: [(repeat each Column)] = []
        do {
            for try await row in reader.rows { result.append(try row.decode((repeat each Column).self)) }
        } catch {
            throw DatabaseError.wrap(error)
        }
        return result
    }

    /// The rows one at a time, as the server sends them: reading pauses the server when the
    /// consumer falls behind, so a large result is never held in memory. The `DB`'s connection
    /// stays busy until the stream ends.
    public func stream<Row: Decodable>(_ type: Row.Type = Row.self) async throws -> RowStream<Row> {
        RowStream(reader: try await start())
    }

    /// Runs the statement for its effect; returns the number of rows it affected.
    @discardableResult
    public func execute() async throws -> Int {
        try await db.execute(sql)
    }

    private func start() async throws -> RowReader {
        try await db.using { connection in
            let (rows, key, columns) = try await connection.rows(sql)
            return RowReader(rows: rows, connection: connection, key: key, columns: columns)
        }
    }
}

/// A result being read: its rows, and the column map (worked out from the first row unless the
/// statement's cache entry has it already).
struct RowReader {
    let rows: PreparedRows
    let connection: DatabaseConnection
    let key: StatementCache.Key
    var columns: ColumnMap?

    mutating func decode<Row: Decodable>(_ type: Row.Type, _ row: PostgresRow) throws -> Row {
        let map: ColumnMap
        if let columns {
            map = columns
        } else {
            map = ColumnMap(row, naming: connection.naming)
            connection.remember(map, for: key)
            columns = map
        }
        return try Row(from: RowDecoder(row: PostgresRandomAccessRow(row), columns: map))
    }
}

/// Rows decoded as they arrive; see ``DBQuery/stream(_:)``.
public struct RowStream<Row: Decodable>: AsyncSequence {
    /// A decoded row.
    public typealias Element = Row
    var reader: RowReader

    /// An iterator reading from the start.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(rows: reader.rows.makeAsyncIterator(), reader: reader)
    }

    /// Reads and decodes the next row.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var rows: PreparedRows.AsyncIterator
        var reader: RowReader

        /// The next row, or nil at the end.
        public mutating func next() async throws -> Row? {
            do {
                guard let row = try await rows.next(isolation: #isolation) else { return nil }
                return try reader.decode(Row.self, row)
            } catch {
                throw DatabaseError.wrap(error)
            }
        }
    }
}
