import pytest


@pytest.fixture(scope="session")
def deploy_token(project, admin, minter):
    """Deploys a fresh AOAIToken with `minter` holding MINTER_ROLE."""

    def deploy():
        token = admin.deploy(project.AOAIToken, admin)
        token.grantRole(token.MINTER_ROLE(), minter, sender=admin)
        return token

    return deploy


@pytest.fixture
def token(deploy_token):
    return deploy_token()
