import SwiftSyntaxMacrosGenericTestSupport
import Testing

@testable import FasterAPIMacros

struct RoutesMacroTests {
    @Test func headerNamesBecomeHyphenated() {
        #expect(Handler.headerName("userAgent") == "user-agent")
        #expect(Handler.headerName("x_token") == "x-token")
        #expect(Handler.headerName("xToken") == "x-token")
    }
}
