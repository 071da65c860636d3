import FasterAPICore
import NIOConcurrencyHelpers
import NIOCore

/// Token-bucket rate limiting per client (by address, or a key you choose).
///
/// Each key has a bucket of ``capacity`` tokens refilled at ``refillPerSecond``; a request takes
/// one. An empty bucket is answered 429 with `Retry-After` (whole seconds until a token is
/// back). Responses carry `RateLimit-Limit` and `RateLimit-Remaining`. By default clients are
/// keyed by IPv4 address or IPv6 /64 prefix (one host usually holds a whole /64). The bucket
/// table is bounded: when it is full, buckets that have refilled (and so hold no state) are
/// dropped, or else an arbitrary tenth of them, in one linear pass.
public struct RateLimitMiddleware: Middleware {
    /// Burst size.
    public let capacity: Double
    /// Sustained rate.
    public let refillPerSecond: Double
    let key: @Sendable (Request) -> String
    let buckets: NIOLockedValueBox<Buckets>

    /// A limiter allowing bursts of `capacity` and `refillPerSecond` sustained, per key.
    public init(
        capacity: Int, refillPerSecond: Double, maxKeys: Int = 100_000,
        key: @escaping @Sendable (Request) -> String = RateLimitMiddleware.clientKey
    ) {
        precondition(capacity > 0 && refillPerSecond > 0, "A rate limit needs a positive capacity and rate")
        self.capacity = Double(capacity)
        self.refillPerSecond = refillPerSecond
        self.key = key
        self.buckets = NIOLockedValueBox(Buckets(maxKeys: maxKeys))
    }

    struct Buckets {
        var tokens: [String: (tokens: Double, updated: NIODeadline)] = [:]
        let maxKeys: Int

        enum Outcome {
            case allowed(remaining: Int)
            case limited(retryAfter: Double)
        }

        /// Takes a token for `key`; returns the tokens left, or the wait until one is available.
        mutating func take(_ key: String, capacity: Double, rate: Double, now: NIODeadline) -> Outcome {
            var bucket = tokens[key] ?? (capacity, now)
            let elapsed = Double((now - bucket.updated).nanoseconds) / 1e9
            bucket.tokens = min(capacity, bucket.tokens + elapsed * rate)
            bucket.updated = now
            defer {
                if tokens.count >= maxKeys && tokens[key] == nil { evict(capacity: capacity, rate: rate, now: now) }
                tokens[key] = bucket
            }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return .allowed(remaining: Int(bucket.tokens))
            }
            return .limited(retryAfter: (1 - bucket.tokens) / rate)
        }

        private mutating func evict(capacity: Double, rate: Double, now: NIODeadline) {
            tokens = tokens.filter { _, bucket in
                bucket.tokens + Double((now - bucket.updated).nanoseconds) / 1e9 * rate < capacity
            }
            if tokens.count >= maxKeys {
                for key in tokens.keys.prefix(max(1, maxKeys / 10)) { tokens.removeValue(forKey: key) }
            }
        }
    }

    /// The default key: the client's IPv4 address, or the /64 prefix of its IPv6 address.
    public static func clientKey(_ request: Request) -> String {
        guard let address = request.clientAddress else { return "unknown" }
        if case .v6(let v6) = address {
            let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0.prefix(8)) }
            return bytes.map { String($0, radix: 16) }.joined(separator: ":") + "::/64"
        }
        return address.ipAddress ?? "unknown"
    }

    /// Passes the request on if its key has a token left; fails with 429 otherwise.
    public func handle(_ request: Request, next: Next) async throws -> Response {
        let key = self.key(request)
        let capacity = self.capacity, rate = refillPerSecond
        let now = NIODeadline.now()
        switch buckets.withLockedValue({ $0.take(key, capacity: capacity, rate: rate, now: now) }) {
        case .allowed(let remaining):
            var response = try await next(request)
            response.headers.replaceOrAdd(name: "RateLimit-Limit", value: String(Int(capacity)))
            response.headers.replaceOrAdd(name: "RateLimit-Remaining", value: String(remaining))
            return response
        case .limited(let wait):
            var headers = HTTPHeaders()
            headers.add(name: "Retry-After", value: String(max(1, Int(wait.rounded(.up)))))
            headers.add(name: "RateLimit-Limit", value: String(Int(capacity)))
            headers.add(name: "RateLimit-Remaining", value: "0")
            throw HTTPError(.tooManyRequests, detail: "Too Many Requests", headers: headers)
        }
    }
}
