import Logging
import NIOConcurrencyHelpers

/// Typed application state: one value per type, set at start-up and read from handlers.
///
/// ```swift
/// app.state[Store.self] = Store()
/// let store = request.app.state[Store.self]!
/// ```
public final class AppState: Sendable {
    private let values = NIOLockedValueBox([ObjectIdentifier: any Sendable]())

    init() {}

    /// The value stored for type `T`.
    public subscript<T: Sendable>(_ type: T.Type) -> T? {
        get { values.withLockedValue { $0[ObjectIdentifier(type)] as? T } }
        set { values.withLockedValue { $0[ObjectIdentifier(type)] = newValue } }
    }

    /// Whether a value is stored for the type with identifier `type`.
    func contains(_ type: ObjectIdentifier) -> Bool { values.withLockedValue { $0[type] != nil } }

    /// The value stored for type `T`; fails with a clear message when nothing was stored.
    public func require<T: Sendable>(_ type: T.Type) throws -> T {
        guard let value = self[type] else { throw StateMissing(type: "\(T.self)") }
        return value
    }

    /// Required state was never set: a programming error, answered 500 (and logged with the type).
    struct StateMissing: Error, CustomStringConvertible {
        let type: String
        var description: String { "App state \(type) is not set" }
    }
}

/// What handlers can reach of the application: state, logger and configuration.
public final class AppContext: Sendable {
    /// Typed application state.
    public let state: AppState
    /// The application's logger.
    public let logger: Logger
    /// The application's configuration.
    public let configuration: AppConfiguration
    let errors: ErrorResponder
    let dependencyOverrides: DependencyOverrides

    init(
        state: AppState, logger: Logger, configuration: AppConfiguration, errors: ErrorResponder,
        dependencyOverrides: DependencyOverrides
    ) {
        self.state = state
        self.logger = logger
        self.configuration = configuration
        self.errors = errors
        self.dependencyOverrides = dependencyOverrides
    }
}
