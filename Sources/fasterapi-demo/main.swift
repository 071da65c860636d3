import FasterAPI
let app = App()
app.get("/plaintext") { _ in "Hello, World!" }
try await app.run()
