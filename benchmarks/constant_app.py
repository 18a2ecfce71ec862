"""The framework's ceiling: a FastAPI app with one constant JSON endpoint, served the same way."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/constant")
def constant():
    return {"status": "healthy"}
