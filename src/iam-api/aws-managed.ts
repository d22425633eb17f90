/**
 * The AWS managed policies IRSA users attach most, so `attach-role-policy --policy-arn arn:aws:iam::aws:policy/…`
 * works and the permission check evaluates them. Documents, versions and dates are copied from moto's snapshot of
 * AWS's managed policies (getmoto/moto 5.2.1, moto/iam/aws_managed_policies.py, Apache-2.0), which mirrors the
 * documents AWS publishes. Any other `arn:aws:iam::aws:policy/…` is refused with NoSuchEntity (docs/iam-api.md).
 * Generated data: regenerate rather than edit by hand.
 */

export interface AwsManagedPolicy {
  name: string;
  path: string;
  defaultVersionId: string;
  createDate: string;
  updateDate: string;
  /** Minified JSON, as IAM returns AWS managed documents (URL-encoded on the wire). */
  document: string;
}

export const AWS_MANAGED_POLICIES: readonly AwsManagedPolicy[] = [
  {
    name: 'AdministratorAccess',
    path: '/',
    defaultVersionId: 'v1',
    createDate: '2015-02-06T18:39:46Z',
    updateDate: '2015-02-06T18:39:46Z',
    document: '{"Version":"2012-10-17","Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]}',
  },
  {
    name: 'AmazonDynamoDBReadOnlyAccess',
    path: '/',
    defaultVersionId: 'v15',
    createDate: '2015-02-06T18:40:12Z',
    updateDate: '2024-11-18T17:38:15Z',
    document:
      '{"Version":"2012-10-17","Statement":[{"Action":["application-autoscaling:DescribeScalableTargets","application-autoscaling:DescribeScalingActivities","application-autoscaling:DescribeScalingPolicies","cloudwatch:DescribeAlarmHistory","cloudwatch:DescribeAlarms","cloudwatch:DescribeAlarmsForMetric","cloudwatch:GetMetricStatistics","cloudwatch:ListMetrics","cloudwatch:GetMetricData","datapipeline:DescribeObjects","datapipeline:DescribePipelines","datapipeline:GetPipelineDefinition","datapipeline:ListPipelines","datapipeline:QueryObjects","dynamodb:BatchGetItem","dynamodb:Describe*","dynamodb:List*","dynamodb:GetAbacStatus","dynamodb:GetItem","dynamodb:GetResourcePolicy","dynamodb:Query","dynamodb:Scan","dynamodb:PartiQLSelect","dax:Describe*","dax:List*","dax:GetItem","dax:BatchGetItem","dax:Query","dax:Scan","ec2:DescribeVpcs","ec2:DescribeSubnets","ec2:DescribeSecurityGroups","iam:GetRole","iam:ListRoles","kms:DescribeKey","kms:ListAliases","sns:ListSubscriptionsByTopic","sns:ListTopics","lambda:ListFunctions","lambda:ListEventSourceMappings","lambda:GetFunctionConfiguration","resource-groups:ListGroups","resource-groups:ListGroupResources","resource-groups:GetGroup","resource-groups:GetGroupQuery","tag:GetResources","kinesis:ListStreams","kinesis:DescribeStream","kinesis:DescribeStreamSummary"],"Effect":"Allow","Resource":"*","Sid":"GeneralReadOnlyAccess"},{"Action":"cloudwatch:GetInsightRuleReport","Effect":"Allow","Resource":"arn:aws:cloudwatch:*:*:insight-rule/DynamoDBContributorInsights*","Sid":"CCIAccess"}]}',
  },
  {
    name: 'AmazonEC2ContainerRegistryReadOnly',
    path: '/',
    defaultVersionId: 'v3',
    createDate: '2015-12-21T17:04:15Z',
    updateDate: '2019-12-10T20:56:32Z',
    document:
      '{"Version":"2012-10-17","Statement":[{"Action":["ecr:GetAuthorizationToken","ecr:BatchCheckLayerAvailability","ecr:GetDownloadUrlForLayer","ecr:GetRepositoryPolicy","ecr:DescribeRepositories","ecr:ListImages","ecr:DescribeImages","ecr:BatchGetImage","ecr:GetLifecyclePolicy","ecr:GetLifecyclePolicyPreview","ecr:ListTagsForResource","ecr:DescribeImageScanFindings"],"Effect":"Allow","Resource":"*"}]}',
  },
  {
    name: 'AmazonS3FullAccess',
    path: '/',
    defaultVersionId: 'v2',
    createDate: '2015-02-06T18:40:58Z',
    updateDate: '2021-09-27T20:16:37Z',
    document:
      '{"Version":"2012-10-17","Statement":[{"Action":["s3:*","s3-object-lambda:*"],"Effect":"Allow","Resource":"*"}]}',
  },
  {
    name: 'AmazonS3ReadOnlyAccess',
    path: '/',
    defaultVersionId: 'v3',
    createDate: '2015-02-06T18:40:59Z',
    updateDate: '2023-08-10T21:31:39Z',
    document:
      '{"Version":"2012-10-17","Statement":[{"Action":["s3:Get*","s3:List*","s3:Describe*","s3-object-lambda:Get*","s3-object-lambda:List*"],"Effect":"Allow","Resource":"*"}]}',
  },
  {
    name: 'AmazonSQSFullAccess',
    path: '/',
    defaultVersionId: 'v1',
    createDate: '2015-02-06T18:41:07Z',
    updateDate: '2015-02-06T18:41:07Z',
    document: '{"Version":"2012-10-17","Statement":[{"Action":["sqs:*"],"Effect":"Allow","Resource":"*"}]}',
  },
  {
    name: 'AmazonSSMReadOnlyAccess',
    path: '/',
    defaultVersionId: 'v1',
    createDate: '2015-05-29T17:44:19Z',
    updateDate: '2015-05-29T17:44:19Z',
    document:
      '{"Version":"2012-10-17","Statement":[{"Action":["ssm:Describe*","ssm:Get*","ssm:List*"],"Effect":"Allow","Resource":"*"}]}',
  },
  {
    name: 'CloudWatchAgentServerPolicy',
    path: '/',
    defaultVersionId: 'v3',
    createDate: '2018-03-07T01:06:44Z',
    updateDate: '2024-02-06T16:37:37Z',
    document:
      '{"Version":"2012-10-17","Statement":[{"Action":["cloudwatch:PutMetricData","ec2:DescribeVolumes","ec2:DescribeTags","logs:PutLogEvents","logs:PutRetentionPolicy","logs:DescribeLogStreams","logs:DescribeLogGroups","logs:CreateLogStream","logs:CreateLogGroup","xray:PutTraceSegments","xray:PutTelemetryRecords","xray:GetSamplingRules","xray:GetSamplingTargets","xray:GetSamplingStatisticSummaries"],"Effect":"Allow","Resource":"*","Sid":"CWACloudWatchServerPermissions"},{"Action":["ssm:GetParameter"],"Effect":"Allow","Resource":"arn:aws:ssm:*:*:parameter/AmazonCloudWatch-*","Sid":"CWASSMServerPermissions"}]}',
  },
  {
    name: 'IAMFullAccess',
    path: '/',
    defaultVersionId: 'v2',
    createDate: '2015-02-06T18:40:38Z',
    updateDate: '2019-06-21T19:40:00Z',
    document:
      '{"Version":"2012-10-17","Statement":[{"Action":["iam:*","organizations:DescribeAccount","organizations:DescribeOrganization","organizations:DescribeOrganizationalUnit","organizations:DescribePolicy","organizations:ListChildren","organizations:ListParents","organizations:ListPoliciesForTarget","organizations:ListRoots","organizations:ListPolicies","organizations:ListTargetsForPolicy"],"Effect":"Allow","Resource":"*"}]}',
  },
  {
    name: 'IAMReadOnlyAccess',
    path: '/',
    defaultVersionId: 'v4',
    createDate: '2015-02-06T18:40:39Z',
    updateDate: '2018-01-25T19:11:27Z',
    document:
      '{"Version":"2012-10-17","Statement":[{"Action":["iam:GenerateCredentialReport","iam:GenerateServiceLastAccessedDetails","iam:Get*","iam:List*","iam:SimulateCustomPolicy","iam:SimulatePrincipalPolicy"],"Effect":"Allow","Resource":"*"}]}',
  },
  {
    name: 'SecretsManagerReadWrite',
    path: '/',
    defaultVersionId: 'v6',
    createDate: '2018-04-04T18:05:29Z',
    updateDate: '2026-08-25T23:37:10Z',
    document:
      '{"Version":"2012-10-17","Statement":[{"Action":["secretsmanager:*","cloudformation:CreateChangeSet","cloudformation:DescribeChangeSet","cloudformation:DescribeStackResource","cloudformation:DescribeStacks","cloudformation:ExecuteChangeSet","docdb-elastic:GetCluster","docdb-elastic:ListClusters","ec2:DescribeSecurityGroups","ec2:DescribeSubnets","ec2:DescribeVpcs","kms:DescribeKey","kms:ListAliases","kms:ListKeys","lambda:ListFunctions","rds:DescribeDBClusters","rds:DescribeDBInstances","redshift:DescribeClusters","redshift-serverless:ListWorkgroups","redshift-serverless:GetNamespace","tag:GetResources"],"Effect":"Allow","Resource":"*","Sid":"BasePermissions"},{"Action":["lambda:AddPermission","lambda:CreateFunction","lambda:GetFunction","lambda:InvokeFunction","lambda:UpdateFunctionConfiguration"],"Effect":"Allow","Resource":"arn:aws:lambda:*:*:function:SecretsManager*","Sid":"LambdaPermissions"},{"Action":["serverlessrepo:CreateCloudFormationChangeSet","serverlessrepo:GetApplication"],"Effect":"Allow","Resource":"arn:aws:serverlessrepo:*:*:applications/SecretsManager*","Sid":"SARPermissions"},{"Action":["s3:GetObject"],"Effect":"Allow","Resource":["arn:aws:s3:::awsserverlessrepo-changesets*","arn:aws:s3:::secrets-manager-rotation-apps-*/*"],"Sid":"S3Permissions"},{"Action":["cloudformation:TagResource","cloudformation:UntagResource"],"Condition":{"StringEquals":{"cloudformation:CreateAction":["CreateChangeSet","ExecuteChangeSet"]}},"Effect":"Allow","Resource":"*","Sid":"CloudFormationTagOnCreate"}]}',
  },
];
