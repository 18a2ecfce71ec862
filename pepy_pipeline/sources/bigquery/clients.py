"""Building the BigQuery clients: production defaults, or an emulator's endpoints.

Follows dagster-gcp's conventions for credentials (base64 service-account JSON, or application
default credentials) but builds the clients itself, because the emulator needs a REST endpoint,
a Storage Read gRPC address and anonymous credentials, which ``dagster_gcp.BigQueryResource``
cannot pass.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from google.api_core.client_options import ClientOptions
from google.cloud import bigquery


class MissingCredentialsError(RuntimeError):
    """No usable Google credentials: said at the start of a run, not as a stack trace mid-way."""


@dataclass(frozen=True)
class BigQueryConnection:
    project: str = ""
    location: str = "US"
    credentials_path: str = ""
    credentials_base64: str = ""
    api_endpoint: str = ""
    storage_endpoint: str = ""
    anonymous: bool = False

    def credentials(self):
        if self.anonymous:
            from google.auth.credentials import AnonymousCredentials

            return AnonymousCredentials()
        from google.oauth2 import service_account

        if self.credentials_base64:
            try:
                info = json.loads(base64.b64decode(self.credentials_base64))
            except (binascii.Error, ValueError) as error:
                raise MissingCredentialsError(f"PEPY_BIGQUERY_CREDENTIALS_BASE64 is not base64 JSON: {error}") from None
            return service_account.Credentials.from_service_account_info(info)
        if self.credentials_path:
            try:
                return service_account.Credentials.from_service_account_file(self.credentials_path)
            except (OSError, ValueError) as error:
                raise MissingCredentialsError(f"cannot read the service account file {self.credentials_path}: {error}") from None
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError

        try:
            credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
        except DefaultCredentialsError:
            raise MissingCredentialsError(
                "no Google credentials: set PEPY_BIGQUERY_CREDENTIALS_PATH (a service-account JSON file), "
                "PEPY_BIGQUERY_CREDENTIALS_BASE64 (its base64), or configure application default credentials "
                "(gcloud auth application-default login)"
            ) from None
        return credentials

    def bigquery_client(self) -> bigquery.Client:
        credentials = self.credentials()
        project = self.project or getattr(credentials, "project_id", None) or None
        if not project:
            raise MissingCredentialsError("no Google Cloud project to bill queries to: set PEPY_BIGQUERY_PROJECT")
        options = ClientOptions(api_endpoint=self.api_endpoint) if self.api_endpoint else None
        return bigquery.Client(project=project, location=self.location or None, credentials=credentials,
                               client_options=options)

    def storage_client(self):
        """A BigQuery Storage Read client, aimed at the emulator's gRPC address when set.

        Always passed explicitly: ``to_arrow`` would otherwise create one for Google's endpoint.
        """
        from google.cloud import bigquery_storage

        if self.storage_endpoint:
            import grpc
            from google.cloud.bigquery_storage_v1.services.big_query_read.transports import BigQueryReadGrpcTransport

            channel = grpc.insecure_channel(self.storage_endpoint)
            return bigquery_storage.BigQueryReadClient(transport=BigQueryReadGrpcTransport(channel=channel))
        return bigquery_storage.BigQueryReadClient(credentials=self.credentials())
