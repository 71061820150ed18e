# syntax=docker/dockerfile:1
# The ingestgate image: the server and ingestctl, static (pure-Go SQLite, no
# cgo), on distroless as a non-root user. docker-compose.yml builds it.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ingestgate ./cmd/ingestgate \
 && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ingestctl ./cmd/ingestctl \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ingestgate /out/ingestctl /usr/local/bin/
COPY --from=build --chown=nonroot:nonroot /out/data /var/lib/ingestgate
ENV INGESTGATE_GRPC_ADDR=0.0.0.0:50051 \
    INGESTGATE_HTTP_ADDR=0.0.0.0:8080 \
    INGESTGATE_DATA_DIR=/var/lib/ingestgate
VOLUME /var/lib/ingestgate
EXPOSE 50051 8080
HEALTHCHECK --interval=5s --timeout=3s --retries=10 CMD ["ingestgate", "healthcheck"]
ENTRYPOINT ["ingestgate"]
