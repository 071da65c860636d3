import Testing

@testable import FasterAPIMCP

@Suite("Resource URI templates")
struct URITemplateTests {
    @Test(
        "Variables match up to the next literal; anything else does not match",
        arguments: [
            ("items://{id}", "items://7", ["id": "7"]),
            ("items://{id}/parts/{part}", "items://7/parts/a-b", ["id": "7", "part": "a-b"]),
            ("files:///{path}", "files:///etc/hosts", ["path": "etc/hosts"]),
            ("items://{id}", "items://", nil),
            ("items://{id}", "things://7", nil),
            ("items://{id}/x", "items://7/y", nil),
        ])
    func matching(template: String, uri: String, values: [String: String]?) {
        #expect(URITemplate(template).match(uri) == values)
    }
}
